"""Headers of a dead-letter record (SPEC 1): why it was rejected and where it came from.

The DLQ record itself carries the original key and the original value bytes, unchanged; these
headers are added: ``error.reason``, ``error.message``, ``source.topic``, ``source.partition``,
``source.offset``, ``source.timestamp`` (epoch ms). Numbers are written as ASCII decimal text.

A record that did not come from Kafka (``produce --dlq`` reading a file, the HTTP collector)
uses :meth:`SourceCoordinates.from_file` / :meth:`SourceCoordinates.from_collector`: topic
``file:<path as given>`` (or ``http:<route>``), partition ``-1``, offset = the 1-based line
number (``-1`` for the collector), timestamp ``-1`` when unknown (Kafka's "no timestamp").
"""

from __future__ import annotations

from dataclasses import dataclass

from ingest.accepted_event import Rejection

MESSAGE_MAX_CHARS = 1000
NO_COORDINATE = -1


@dataclass(frozen=True, slots=True)
class SourceCoordinates:
    """Where a rejected record came from."""

    topic: str
    partition: int
    offset: int
    timestamp_ms: int | None = None

    @classmethod
    def from_file(cls, path: str, line_number: int) -> SourceCoordinates:
        """A line of a JSON Lines file (``line_number`` counts from 1, blank lines included)."""
        return cls(f"file:{path}", NO_COORDINATE, line_number, None)

    @classmethod
    def from_collector(cls, route: str, received_at_ms: int | None) -> SourceCoordinates:
        """A record posted to the HTTP collector (``route`` such as ``/v1/events``)."""
        return cls(f"http:{route}", NO_COORDINATE, NO_COORDINATE, received_at_ms)


def _text(value: str) -> bytes:
    # Messages may quote bad input; never fail on a lone surrogate.
    return value.encode("utf-8", "backslashreplace")


def dlq_headers(rejection: Rejection, source: SourceCoordinates) -> list[tuple[str, bytes]]:
    """The DLQ headers for ``rejection`` of the record at ``source``, in SPEC 1 order."""
    timestamp = NO_COORDINATE if source.timestamp_ms is None else source.timestamp_ms
    return [
        ("error.reason", rejection.reason.value.encode("ascii")),
        ("error.message", _text(rejection.message[:MESSAGE_MAX_CHARS])),
        ("source.topic", _text(source.topic)),
        ("source.partition", str(source.partition).encode("ascii")),
        ("source.offset", str(source.offset).encode("ascii")),
        ("source.timestamp", str(timestamp).encode("ascii")),
    ]
