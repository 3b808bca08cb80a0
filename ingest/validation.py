"""Validation of one raw record (SPEC 2): bytes in, :class:`AcceptedEvent` or :class:`Rejection`.

One function serves every entry: the HTTP collector and ``produce`` (no key check), the
offline fold (``check_key=False``, ``record_timestamp_ms=None``: arrival falls back to ``ts``)
and the stream (``check_key=True``, the Kafka key and the record timestamp). Pure: no I/O.

Reasons are checked in SPEC 2.4 order, so the first that applies is the one given:
``too_large`` → ``bad_json`` → ``invalid_event`` → ``bad_timestamp`` → ``key_mismatch``.
"""

from __future__ import annotations

from typing import Any, Final

from ingest.accepted_event import AcceptedEvent, Rejection, RejectReason
from ingest.event_fields import (
    EVENT_ID_RULE,
    EVENT_TYPES,
    LLM_EXTRA_FIELDS,
    TYPE_RULES,
    UNKNOWN_TYPE_RULES,
    FieldProblem,
    check_field,
    check_session_id,
)
from ingest.event_times import BadTimestamp, resolve_times
from ingest.json_decoding import BadJson, decode_json_object
from ingest.sanitize import may_need_sanitizing

MAX_VALUE_BYTES: Final = 65_536


def _invalid(problems: list[tuple[str, str]]) -> Rejection:
    message = "invalid fields: " + "; ".join(f"{name} {text}" for name, text in problems)
    return Rejection(RejectReason.INVALID_EVENT, message, tuple(name for name, _ in problems))


def validate_record(
    value: bytes | None,
    *,
    key: bytes | None = None,
    check_key: bool = False,
    record_timestamp_ms: int | None = None,
) -> AcceptedEvent | Rejection:
    """Validate one raw event value; never raises for any ``bytes``.

    ``key`` and ``check_key``: with ``check_key`` the Kafka key must equal the UTF-8 bytes of
    ``session_id`` as sent (a missing key is a mismatch). ``record_timestamp_ms``: the Kafka
    record timestamp, used as arrival time when ``received_at`` is absent; ``None`` (the
    offline fold, reading a file) falls back to ``ts``.
    """
    if value is None:  # a Kafka tombstone; not expected, but bad input never crashes
        return Rejection(RejectReason.BAD_JSON, "record has no value")
    if len(value) > MAX_VALUE_BYTES:
        return Rejection(
            RejectReason.TOO_LARGE, f"value is {len(value)} bytes, over {MAX_VALUE_BYTES}"
        )
    try:
        document = decode_json_object(value)
    except BadJson as exc:
        return Rejection(RejectReason.BAD_JSON, str(exc))
    sanitize = may_need_sanitizing(value)

    problems: list[tuple[str, str]] = []
    accepted: dict[str, Any] = {}
    llm_extra: dict[str, Any] = {}

    raw = document.get("event_id")
    if raw is None:
        problems.append(("event_id", "is required"))
    else:
        checked = check_field(EVENT_ID_RULE, raw, sanitize)
        if type(checked) is FieldProblem:
            problems.append(("event_id", checked.text))
        else:
            accepted["event_id"] = checked

    session_id = ""
    raw = document.get("session_id")
    if raw is None:
        problems.append(("session_id", "is required"))
    else:
        checked = check_session_id(raw, sanitize)
        if isinstance(checked, FieldProblem):
            problems.append(("session_id", checked.text))
        else:
            session_id = checked

    event_type = document.get("type")
    if event_type is None:
        problems.append(("type", "is required"))
        rules = UNKNOWN_TYPE_RULES
    elif type(event_type) is not str or event_type not in EVENT_TYPES:
        problems.append(("type", "must be one of " + ", ".join(sorted(EVENT_TYPES))))
        rules = UNKNOWN_TYPE_RULES
    else:
        rules = TYPE_RULES[event_type]

    for rule in rules:
        raw = document.get(rule.name)
        if raw is None:
            if rule.required:
                suffix = f" for {event_type}" if type(event_type) is str else ""
                problems.append((rule.name, "is required" + suffix))
            continue
        checked = check_field(rule, raw, sanitize)
        if type(checked) is FieldProblem:
            problems.append((rule.name, checked.text))
        elif rule.name in LLM_EXTRA_FIELDS:
            llm_extra[rule.name] = checked
        else:
            accepted[rule.name] = checked
    if problems:
        return _invalid(problems)

    try:
        event_time_ms, arrival_ms = resolve_times(document, record_timestamp_ms, sanitize=sanitize)
    except BadTimestamp as exc:
        return Rejection(RejectReason.BAD_TIMESTAMP, str(exc), exc.fields)

    if check_key and (key is None or key != session_id.encode("utf-8")):
        if key is None:
            message = "record has no key; it must be the session_id"
        else:
            message = f"key {key[:140]!r} differs from session_id {session_id!r}"
        return Rejection(RejectReason.KEY_MISMATCH, message, ("session_id",))

    return AcceptedEvent(
        session_id=session_id,
        type=event_type,  # type: ignore[arg-type]  # checked against EVENT_TYPES above
        event_time_ms=event_time_ms,
        arrival_ms=arrival_ms,
        llm_extra=llm_extra,
        **accepted,
    )
