"""Sanitizing of decoded strings (SPEC 2.2): Postgres text and jsonb hold neither U+0000 nor
lone surrogates, so U+0000 is removed and each lone surrogate becomes U+FFFD.

Both can only come from a ``\\u`` escape in the JSON text (raw U+0000 is not allowed inside a
JSON string, and valid UTF-8 cannot encode a surrogate), and Python's ``json`` already joins a
valid escaped surrogate pair into one code point. So a value without ``\\u`` in its bytes needs
no sanitizing at all: :func:`may_need_sanitizing` is the cheap test the hot path uses.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

_LONE_SURROGATE = re.compile("[\ud800-\udfff]")
REPLACEMENT_CHARACTER = "\ufffd"


def may_need_sanitizing(raw_value: bytes) -> bool:
    """Whether the raw JSON text has a ``\\u`` escape (the only source of U+0000/surrogates)."""
    return b"\\u" in raw_value


def has_forbidden_code_points(text: str) -> bool:
    """Whether ``text`` holds U+0000 or a lone surrogate."""
    if "\x00" in text:
        return True
    return _LONE_SURROGATE.search(text) is not None


def sanitize_text(text: str) -> str:
    """``text`` without U+0000 and with each lone surrogate replaced by U+FFFD."""
    if "\x00" in text:
        text = text.replace("\x00", "")
    if _LONE_SURROGATE.search(text) is not None:
        text = _LONE_SURROGATE.sub(REPLACEMENT_CHARACTER, text)
    return text


def clean_json_value(value: Any, *, sanitize: bool) -> Any:
    """A copy of a decoded JSON value fit to store as ``metadata``.

    Non-integer numbers (decoded as :class:`Decimal`) become ``float``; when ``sanitize`` is
    true every string and every object key, at any depth, goes through :func:`sanitize_text`.
    Two keys that become equal after sanitizing keep the later value (as JSON does for
    duplicate keys). Depth is bounded by the decoder (at most 32 levels).
    """
    if isinstance(value, str):
        return sanitize_text(value) if sanitize else value
    if isinstance(value, dict):
        if sanitize:
            return {
                sanitize_text(key): clean_json_value(item, sanitize=True)
                for key, item in value.items()
            }
        return {key: clean_json_value(item, sanitize=False) for key, item in value.items()}
    if isinstance(value, list):
        return [clean_json_value(item, sanitize=sanitize) for item in value]
    if isinstance(value, Decimal):
        return float(value)
    return value  # int, bool, None
