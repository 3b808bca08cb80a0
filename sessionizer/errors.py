"""The one error root of sessionizer.

Every fault the project raises on purpose derives from :class:`SessionizerError`.
``retriable`` tells the imperative shell what to do with it: a retriable (transient)
fault blocks and is retried with backoff; a permanent one is reported (CLI message,
HTTP 4xx, or a DLQ record with a reason) and the rest of the work goes on.
"""

from __future__ import annotations


class SessionizerError(Exception):
    """Root of every error sessionizer raises on purpose."""

    retriable: bool = False


class TransientError(SessionizerError):
    """A fault that may go away by itself: retry with backoff, keep offsets uncommitted."""

    retriable = True


class PermanentError(SessionizerError):
    """A fault that retrying will not fix: report it (DLQ, 4xx, CLI message) and go on."""

    retriable = False


class ConfigError(PermanentError):
    """A setting is missing or wrong."""


class StackError(SessionizerError):
    """The local Kafka/Postgres stack could not be started, stopped or reached."""
