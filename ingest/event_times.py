"""Arrival time and event time of a raw event (SPEC 2.3), in epoch milliseconds.

- arrival = ``received_at`` if present, else the Kafka record timestamp, else (offline) ``ts``;
- event time = arrival + (``ts`` − ``sent_at``) when ``sent_at`` is present, else ``ts``;
- event time more than 1 hour after arrival becomes arrival;
- arrival, and event time as computed (before that clamp: "a time whose arithmetic leaves
  that range"), must both lie in 2000-01-01T00:00:00Z .. 9999-12-31T23:59:59.999Z.
"""

from __future__ import annotations

from typing import Any, Final

from ingest.rfc3339 import BadDateTime, parse_rfc3339_ms
from ingest.sanitize import sanitize_text

MIN_TIME_MS: Final = 946_684_800_000  # 2000-01-01T00:00:00.000Z
MAX_TIME_MS: Final = 253_402_300_799_999  # 9999-12-31T23:59:59.999Z
MAX_FUTURE_MS: Final = 3_600_000  # 1 hour
TIME_FIELDS: Final = ("ts", "sent_at", "received_at")


class BadTimestamp(ValueError):
    """A time field is not a strict RFC 3339 string, or a time is out of range."""

    def __init__(self, message: str, fields: tuple[str, ...]) -> None:
        super().__init__(message)
        self.fields = fields


def _parse(document: dict[str, Any], name: str, sanitize: bool) -> int | None:
    raw = document.get(name)
    if raw is None:
        return None
    if sanitize and isinstance(raw, str):
        raw = sanitize_text(raw)
    try:
        return parse_rfc3339_ms(raw)
    except BadDateTime as exc:
        raise BadTimestamp(f"{name} {exc}: {str(raw)[:64]!r}", (name,)) from None


def _in_range(ms: int) -> bool:
    return MIN_TIME_MS <= ms <= MAX_TIME_MS


def resolve_times(
    document: dict[str, Any], record_timestamp_ms: int | None, *, sanitize: bool
) -> tuple[int, int]:
    """``(event_time_ms, arrival_ms)`` of a decoded event, or raise :class:`BadTimestamp`.

    ``record_timestamp_ms`` is the Kafka record timestamp; ``None`` (offline) or a negative
    value (Kafka's -1, "no timestamp") falls back to ``ts``.
    """
    ts = _parse(document, "ts", sanitize)
    if ts is None:
        raise BadTimestamp("ts is required", ("ts",))
    sent_at = _parse(document, "sent_at", sanitize)
    received_at = _parse(document, "received_at", sanitize)
    if received_at is not None:
        arrival, arrival_source = received_at, "received_at"
    elif record_timestamp_ms is not None and record_timestamp_ms >= 0:
        arrival, arrival_source = record_timestamp_ms, "record timestamp"
    else:
        arrival, arrival_source = ts, "ts"
    if not _in_range(arrival):
        raise BadTimestamp(
            f"arrival time ({arrival_source}) is outside 2000-01-01..9999-12-31",
            ("received_at",) if received_at is not None else ("ts",),
        )
    event_time = ts if sent_at is None else arrival + (ts - sent_at)
    if not _in_range(event_time):  # checked before the clamp: the arithmetic left the range
        fields = ("ts",) if sent_at is None else ("ts", "sent_at")
        raise BadTimestamp("event time is outside 2000-01-01..9999-12-31", fields)
    if event_time - arrival > MAX_FUTURE_MS:
        event_time = arrival
    return event_time, arrival
