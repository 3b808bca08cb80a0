"""The pure part of the HTTP collector: a request body in, records to produce and rejections out.

A body is one JSON event or a JSON array of up to :data:`MAX_EVENTS` events, at most
:data:`MAX_BODY_BYTES` bytes of UTF-8. Each event object gets ``received_at`` (the collector's
clock, RFC 3339 UTC with milliseconds), replacing any value the client sent; it is then written
back as compact JSON (non-ASCII characters unescaped) and *those* bytes are validated with
:func:`ingest.validation.validate_record` and, when valid, produced as they are. So the stream
later reads exactly the bytes that were validated here.

Numbers are re-written by Python's ``json``: an integer keeps its digits, a fraction its shortest
round-trip form (a ``cost`` written with more than 17 significant digits is rounded to the
nearest double). A lone surrogate escape (``"\\ud800"``) is kept as an escape, so validation
sanitizes it exactly as it would have in the original text. No I/O here.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

from ingest.accepted_event import AcceptedEvent, Rejection, RejectReason
from ingest.validation import validate_record

MAX_BODY_BYTES: Final = 1 << 20  # 1 MiB
MAX_EVENTS: Final = 500
TOO_DEEP: Final = Rejection(RejectReason.BAD_JSON, "event is nested too deeply")


class BodyError(ValueError):
    """The request body as a whole is refused: ``status`` is the HTTP status to answer."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


@dataclass(frozen=True, slots=True)
class CollectedEvent:
    """An event of the body that passed validation: produce ``value`` under ``key``."""

    index: int
    key: bytes
    value: bytes
    timestamp_ms: int
    event: AcceptedEvent


@dataclass(frozen=True, slots=True)
class RejectedEvent:
    """An event of the body that validation refused (never produced anywhere)."""

    index: int
    rejection: Rejection

    def as_json(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "reason": self.rejection.reason.value,
            "message": self.rejection.message,
        }


def format_received_at(now_ms: int) -> str:
    """Epoch milliseconds as RFC 3339 UTC with exactly three fraction digits and ``Z``."""
    moment = datetime.fromtimestamp(now_ms // 1000, tz=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S") + f".{now_ms % 1000:03d}Z"


def parse_body(body: bytes) -> list[Any]:
    """The events of a body (one event is a list of one); raises :class:`BodyError`."""
    if len(body) > MAX_BODY_BYTES:
        raise BodyError(413, "body_too_large", f"body over {MAX_BODY_BYTES} bytes")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BodyError(400, "bad_json", f"body is not UTF-8: {exc.reason}") from None
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise BodyError(400, "bad_json", f"body is not JSON: {exc}") from None
    except RecursionError:
        raise BodyError(400, "bad_json", "body is nested too deeply") from None
    if isinstance(document, list):
        if len(document) > MAX_EVENTS:
            raise BodyError(
                413,
                "too_many_events",
                f"{len(document)} events in one request, at most {MAX_EVENTS}",
            )
        return document
    if isinstance(document, dict):
        return [document]
    raise BodyError(400, "bad_json", "body must be a JSON object (one event) or an array")


def encode_event(event: Any, received_at: str) -> bytes | None:
    """The bytes to validate and produce: ``event`` with ``received_at`` set, compact JSON.

    A non-object element is written as it is (validation rejects it as ``bad_json``);
    ``None`` when the event cannot be written back (nested too deeply).
    """
    if isinstance(event, dict):
        event = {**event, "received_at": received_at}
    try:
        text = json.dumps(event, ensure_ascii=False, separators=(",", ":"))
    except (ValueError, RecursionError):
        return None
    # A lone surrogate can only sit inside a string: keep it as a JSON \\uXXXX escape.
    return text.encode("utf-8", "backslashreplace")


def collect_events(
    events: list[Any], received_ms: int
) -> tuple[list[CollectedEvent], list[RejectedEvent]]:
    """Stamp, encode and validate every event of a body, keeping their indexes."""
    received_at = format_received_at(received_ms)
    collected: list[CollectedEvent] = []
    rejected: list[RejectedEvent] = []
    for index, event in enumerate(events):
        value = encode_event(event, received_at)
        if value is None:
            rejected.append(RejectedEvent(index, TOO_DEEP))
            continue
        checked = validate_record(value, record_timestamp_ms=received_ms)
        if isinstance(checked, Rejection):
            rejected.append(RejectedEvent(index, checked))
        else:
            collected.append(
                CollectedEvent(
                    index=index,
                    key=checked.session_id.encode("utf-8"),
                    value=value,
                    timestamp_ms=checked.arrival_ms,
                    event=checked,
                )
            )
    return collected, rejected
