"""The field rules of SPEC 2.1 (all but the three times) and the checks that apply them.

This is the hot-path twin of :mod:`ingest.event_models` (the pydantic models that publish the
same rules as JSON Schema); ``tests/unit/test_ingest_event_models.py`` checks that both agree.

A field whose value is ``null`` counts as absent. Fields that do not belong to the event's type,
and unknown fields, are ignored (not even looked at). Strings are sanitized (SPEC 2.2) before
their lengths are checked; ``session_id`` is never sanitized and is invalid when it holds
U+0000 or a lone surrogate.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Final, Literal, get_args

from ingest.accepted_event import EventType
from ingest.sanitize import clean_json_value, has_forbidden_code_points, sanitize_text

EVENT_TYPES: Final[frozenset[str]] = frozenset(get_args(EventType))
UUID_PATTERN: Final = "[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
_UUID = re.compile(UUID_PATTERN)
SESSION_ID_MAX = 128
MESSAGE_MAX = 1000
METADATA_MAX_BYTES = 8192
COST_MAX = Decimal(1_000_000)
COUNT_MAX = 10_000_000
LLM_EXTRA_FIELDS: Final = frozenset(
    {
        "prompt_tokens",
        "completion_tokens",
        "response_ms",
        "stopped",
        "chat_id",
        "message_id",
        "finish_reason",
    }
)

Kind = Literal["text", "message", "uuid", "integer", "boolean", "cost", "metadata"]


@dataclass(frozen=True, slots=True)
class FieldRule:
    """One field of one event type: its kind, whether it is required, its bounds."""

    name: str
    kind: Kind
    required: bool = False
    low: int = 0
    high: int = 0


class FieldProblem:
    """Why one field breaks its rule (a return value, not an exception: it is cheaper)."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text


def _text(name: str, high: int, *, required: bool = False) -> FieldRule:
    return FieldRule(name, "text", required, 1, high)


def _count(name: str, high: int = COUNT_MAX, *, required: bool = False) -> FieldRule:
    return FieldRule(name, "integer", required, 0, high)


USER_ID_RULE: Final = FieldRule("user_id", "uuid")
EVENT_ID_RULE: Final = FieldRule("event_id", "uuid", required=True)
_PATH = _text("path", 2048)
_METADATA = FieldRule("metadata", "metadata")
_NAME = _text("name", 128, required=True)

TYPE_RULES: Final[dict[str, tuple[FieldRule, ...]]] = {
    "page_view": (_text("path", 2048, required=True), _METADATA, USER_ID_RULE),
    "interaction": (_NAME, _PATH, _METADATA, USER_ID_RULE),
    "feature_use": (_NAME, _PATH, _METADATA, USER_ID_RULE),
    "goal": (_NAME, _PATH, _METADATA, USER_ID_RULE),
    "page_load": (
        _text("page", 2048, required=True),
        _count("load_ms", 3_600_000, required=True),
        _PATH,
        _METADATA,
        USER_ID_RULE,
    ),
    "error": (
        _text("error_type", 128, required=True),
        FieldRule("message", "message"),
        _PATH,
        _METADATA,
        USER_ID_RULE,
    ),
    "llm_usage": (
        _text("model", 128, required=True),
        _count("tokens", required=True),
        FieldRule("cost", "cost", required=True),
        _count("prompt_tokens"),
        _count("completion_tokens"),
        _count("response_ms"),
        FieldRule("stopped", "boolean"),
        _text("chat_id", 128),
        _text("message_id", 128),
        _text("finish_reason", 64),
        _PATH,
        _METADATA,
        USER_ID_RULE,
    ),
    "context": (FieldRule("metadata", "metadata", required=True), _PATH, USER_ID_RULE),
    "session_end": (_PATH, _METADATA, USER_ID_RULE),
}
"""Per type, the fields that belong to it besides ``event_id`` and ``session_id``."""

UNKNOWN_TYPE_RULES: Final[tuple[FieldRule, ...]] = (_PATH, _METADATA, USER_ID_RULE)
"""Checked as well when ``type`` itself is invalid, so that the message names every fault."""


def metadata_size(metadata: dict[str, Any]) -> int:
    """Bytes of UTF-8 of ``metadata`` as compact JSON (SPEC 2.2), after sanitizing."""
    compact = json.dumps(metadata, separators=(",", ":"), ensure_ascii=False)
    return len(compact) if compact.isascii() else len(compact.encode("utf-8"))


def check_field(rule: FieldRule, raw: Any, sanitize: bool) -> Any:
    """The stored value of a present (non-null) field, or a :class:`FieldProblem`."""
    kind = rule.kind
    if kind == "text" or kind == "message":
        if not isinstance(raw, str):
            return FieldProblem("must be a string")
        text = sanitize_text(raw) if sanitize else raw
        if kind == "message":
            return text[:MESSAGE_MAX]
        if not rule.low <= len(text) <= rule.high:
            return FieldProblem(f"must be {rule.low}..{rule.high} characters long")
        return text
    if kind == "uuid":
        if not isinstance(raw, str):
            return FieldProblem("must be a UUID string")
        text = sanitize_text(raw) if sanitize else raw
        if _UUID.fullmatch(text) is None:
            return FieldProblem("must be a UUID (8-4-4-4-12 hexadecimal digits)")
        return text.lower()
    if kind == "integer":
        if type(raw) is not int or not rule.low <= raw <= rule.high:
            return FieldProblem(f"must be a JSON integer {rule.low}..{rule.high}")
        return raw
    if kind == "boolean":
        if type(raw) is not bool:
            return FieldProblem("must be a boolean")
        return raw
    if kind == "cost":
        if type(raw) is int:
            raw = Decimal(raw)
        elif not isinstance(raw, Decimal):
            return FieldProblem("must be a JSON number")
        if not 0 <= raw <= COST_MAX:
            return FieldProblem(f"must be a number 0..{COST_MAX}")
        return raw
    # metadata
    if not isinstance(raw, dict):
        return FieldProblem("must be a JSON object")
    cleaned = clean_json_value(raw, sanitize=sanitize)
    size = metadata_size(cleaned)
    if size > METADATA_MAX_BYTES:
        return FieldProblem(f"is {size} bytes as compact JSON, over {METADATA_MAX_BYTES}")
    return cleaned


def check_session_id(raw: Any, may_hold_forbidden: bool) -> str | FieldProblem:
    """``session_id`` as sent, or why it is invalid (it is never sanitized)."""
    if not isinstance(raw, str):
        return FieldProblem("must be a string")
    if not 1 <= len(raw) <= SESSION_ID_MAX:
        return FieldProblem(f"must be 1..{SESSION_ID_MAX} characters long")
    if may_hold_forbidden and has_forbidden_code_points(raw):
        return FieldProblem("must not hold U+0000 or a lone surrogate")
    return raw
