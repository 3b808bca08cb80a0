"""Bad raw records for the simulator: one per SPEC 2.4 reason, each rejected for that reason only.

:func:`bad_value` returns the value bytes of a record that validation rejects with exactly the
requested reason (the reasons before it in SPEC 2.4's order do not apply). Each kind has a few
variants, drawn from the session's ``random.Random``. Every value is one line: no raw newline.
``key_mismatch`` values are valid events; what makes them bad is the Kafka key, chosen by the
caller (:data:`MISMATCH_KEY_PREFIX`). Pure: no I/O.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from typing import Any

from ingest.accepted_event import RejectReason

MISMATCH_KEY_PREFIX = b"other-tab:"
"""Key of a ``key_mismatch`` record: this prefix, then the session id."""

FILE_KINDS: tuple[RejectReason, ...] = (
    RejectReason.TOO_LARGE,
    RejectReason.BAD_JSON,
    RejectReason.INVALID_EVENT,
    RejectReason.BAD_TIMESTAMP,
)
"""The reasons a record in a file can carry (``key_mismatch`` needs a Kafka key)."""

TimeText = Callable[[int], str]


def _dumps(document: Any) -> bytes:
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def _base(event_id: str, session_id: str, ts: str) -> dict[str, Any]:
    return {
        "event_id": event_id,
        "session_id": session_id,
        "type": "page_view",
        "ts": ts,
        "path": "/dashboard",
        "received_at": ts,
    }


def _too_large(rng: random.Random, event: dict[str, Any]) -> bytes:
    if rng.random() < 0.5:
        event.update(type="error", error_type="js_error", message="x" * rng.randint(65_600, 68_000))
    else:
        event["metadata"] = {"dump": "y" * rng.randint(65_600, 68_000)}
    return _dumps(event)


def _bad_json(rng: random.Random, event: dict[str, Any]) -> bytes:
    variant = rng.randrange(8)
    if variant == 0:  # cut short, as a crashed client sends it
        text = _dumps(event)
        return text[: rng.randint(1, len(text) - 1)]
    if variant == 1:
        return _dumps([event])
    if variant == 2:
        return _dumps(event)[:-1] + b',"cost":NaN}'
    if variant == 3:
        return _dumps(event)[:-1] + b',"load_ms":1e400}'
    if variant == 4:
        return _dumps(event)[:-1] + b',"load_ms":9223372036854775808}'
    if variant == 5:
        nested: Any = {}
        for _ in range(40):
            nested = {"n": nested}
        event["metadata"] = nested
        return _dumps(event)
    if variant == 6:
        return b"\xef\xbb\xbf" + _dumps(event)
    return b'"page_view"'


def _invalid_event(rng: random.Random, event: dict[str, Any]) -> bytes:
    variant = rng.randrange(9)
    if variant == 0:
        del event["event_id"]
    elif variant == 1:
        event["event_id"] = "not-a-uuid"
    elif variant == 2:
        event["type"] = "purchase"
    elif variant == 3:
        del event["path"]
    elif variant == 4:
        event.update(type="llm_usage", model="gpt-4o", tokens="1200", cost=0.01)
    elif variant == 5:
        event.update(type="page_load", page="/dashboard", load_ms=12.5)
    elif variant == 6:
        event["path"] = "/" + "p" * 2048
    elif variant == 7:
        event["user_id"] = "bob"
    else:
        event.update(type="context", metadata={"blob": "z" * 9000})
    return _dumps(event)


def _bad_timestamp(rng: random.Random, event: dict[str, Any], at_ms: int) -> bytes:
    ts = event["ts"]
    variant = rng.randrange(8)
    if variant == 0:
        event["ts"] = at_ms  # epoch milliseconds, not RFC 3339
    elif variant == 1:
        event["ts"] = ts[:10]  # a date alone
    elif variant == 2:
        event["ts"] = ts[:-1]  # no offset
    elif variant == 3:
        event["ts"] = ts[:17] + "60" + ts[19:]  # second 60
    elif variant == 4:
        event["ts"] = ts[:10] + " " + ts[11:]  # a space instead of T
    elif variant == 5:
        event["sent_at"] = "yesterday"
    elif variant == 6:
        event["received_at"] = ts.replace("Z", "+2500")
    else:
        event["ts"] = "1999-12-31T23:59:59.000Z"  # event time before 2000
    return _dumps(event)


def bad_value(
    reason: RejectReason,
    rng: random.Random,
    *,
    event_id: str,
    session_id: str,
    at_ms: int,
    time_text: TimeText,
) -> bytes:
    """A value that validation rejects with ``reason`` (``key_mismatch``: a valid event)."""
    event = _base(event_id, session_id, time_text(at_ms))
    if reason is RejectReason.TOO_LARGE:
        return _too_large(rng, event)
    if reason is RejectReason.BAD_JSON:
        return _bad_json(rng, event)
    if reason is RejectReason.INVALID_EVENT:
        return _invalid_event(rng, event)
    if reason is RejectReason.BAD_TIMESTAMP:
        return _bad_timestamp(rng, event, at_ms)
    event.update(type="interaction", name="btn_primary")
    return _dumps(event)
