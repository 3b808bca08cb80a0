"""Value types at the boundary between validation and the fold.

Pure data: the fold consumes :class:`AcceptedEvent`; a :class:`Rejection` says why a raw
record was refused (SPEC section 2.4). Nothing here does I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from typing import Any, Literal

EventType = Literal[
    "page_view",
    "interaction",
    "feature_use",
    "goal",
    "page_load",
    "error",
    "llm_usage",
    "context",
    "session_end",
]

JsonValue = Any
"""A value that ``json.loads`` can return (after sanitizing)."""


class RejectReason(StrEnum):
    """SPEC 2.4 reasons, in priority order (the first that applies is given)."""

    TOO_LARGE = "too_large"
    BAD_JSON = "bad_json"
    INVALID_EVENT = "invalid_event"
    BAD_TIMESTAMP = "bad_timestamp"
    KEY_MISMATCH = "key_mismatch"


@dataclass(frozen=True, slots=True)
class Rejection:
    """Why a raw record was refused; ``fields`` names the offending fields, if any."""

    reason: RejectReason
    message: str
    fields: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class AcceptedEvent:
    """A valid, sanitized raw event with its resolved times (SPEC 2.3).

    Only the fields that belong to ``type`` are set; the others are ``None``.
    ``llm_extra`` holds the optional ``llm_usage`` fields the event carried
    (``prompt_tokens``, ``completion_tokens``, ``response_ms``, ``stopped``, ``chat_id``,
    ``message_id``, ``finish_reason``), by name.
    """

    event_id: str  # lower-case UUID
    session_id: str
    type: EventType
    event_time_ms: int  # epoch milliseconds, skew-corrected and clamped
    arrival_ms: int  # epoch milliseconds
    user_id: str | None = None  # lower-case UUID
    path: str | None = None
    name: str | None = None
    page: str | None = None
    load_ms: int | None = None
    error_type: str | None = None
    message: str | None = None  # already cut to 1000 code points
    model: str | None = None
    tokens: int | None = None
    cost: Decimal | None = None  # exact decimal of the JSON number as written
    llm_extra: Mapping[str, JsonValue] = field(default_factory=dict)
    metadata: Mapping[str, JsonValue] | None = None
