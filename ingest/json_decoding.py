"""Strict decoding of a raw record value into a JSON object (SPEC 2.4, ``bad_json``).

The value must be UTF-8 without a byte-order mark, hold one JSON object, nest at most
:data:`MAX_DEPTH` levels (the top-level object is level 1), and hold no ``NaN``/``Infinity``,
no number beyond the float64 range (``1e400``) and no integer beyond the signed 64-bit range.

Numbers: an integer literal (no fraction, no exponent) becomes an ``int``; any other number
becomes the exact :class:`~decimal.Decimal` of its text, so that ``cost`` can be kept exactly.
Callers convert those decimals to ``float`` where a float is wanted (``metadata``).

Strings are returned as Python's ``json`` decodes them: an escaped lone surrogate such as
``"\\ud800"`` stays a lone surrogate and ``"\\u0000"`` stays U+0000 (see ``sanitize``).
"""

from __future__ import annotations

import json
import math
from decimal import Decimal
from typing import Any

MAX_DEPTH = 32
INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1
_UTF8_BOM = b"\xef\xbb\xbf"


class BadJson(ValueError):
    """The value is not an acceptable JSON object; ``str(exc)`` says why."""


def _parse_int(text: str) -> int:
    number = int(text)
    if number < INT64_MIN or number > INT64_MAX:
        raise BadJson(f"integer {text[:40]} is beyond the signed 64-bit range")
    return number


def _parse_float(text: str) -> Decimal:
    if not math.isfinite(float(text)):
        raise BadJson(f"number {text[:40]} is beyond the 64-bit float range")
    return Decimal(text)


def _parse_constant(text: str) -> Any:
    raise BadJson(f"{text} is not a JSON number")


_DECODER = json.JSONDecoder(
    parse_int=_parse_int,
    parse_float=_parse_float,
    parse_constant=_parse_constant,
    strict=True,
)
_JSON_WHITESPACE = " \t\n\r"


def _depth_exceeds(root: dict[str, Any], limit: int) -> bool:
    """Whether containers nest deeper than ``limit`` levels (``root`` is level 1)."""
    stack: list[tuple[Any, int]] = [(root, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > limit:
            return True
        children = node.values() if isinstance(node, dict) else node
        for child in children:
            if isinstance(child, dict | list):
                stack.append((child, depth + 1))
    return False


def _json_kind(document: Any) -> str:
    if document is None:
        return "null"
    if isinstance(document, bool):
        return "boolean"
    if isinstance(document, str):
        return "string"
    if isinstance(document, list):
        return "array"
    return "number"


def _decode(text: str) -> Any:
    """``json.loads`` with the strict hooks; the usual case skips the whitespace regexes."""
    body = text.strip(_JSON_WHITESPACE)
    if body[:1] == "{":
        document, end = _DECODER.raw_decode(body)
        if end == len(body):
            return document
    return _DECODER.decode(text)  # not an object, or trailing data: the decoder says why


def decode_json_object(value: bytes) -> dict[str, Any]:
    """Decode ``value`` into a JSON object, or raise :class:`BadJson` saying why."""
    if value.startswith(_UTF8_BOM):
        raise BadJson("value starts with a UTF-8 byte-order mark")
    try:
        text = value.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadJson(f"value is not UTF-8 (byte {exc.start})") from None
    try:
        document = _decode(text)
    except BadJson:
        raise
    except RecursionError:
        raise BadJson(f"value nests more than {MAX_DEPTH} levels deep") from None
    except ValueError as exc:  # json.JSONDecodeError, int() digit limit
        raise BadJson(f"value is not JSON: {exc}") from None
    if not isinstance(document, dict):
        raise BadJson(f"value is a JSON {_json_kind(document)}, not an object")
    # Cheap bound first: fewer opening brackets than the limit cannot nest deeper.
    if text.count("{") + text.count("[") > MAX_DEPTH and _depth_exceeds(document, MAX_DEPTH):
        raise BadJson(f"value nests more than {MAX_DEPTH} levels deep")
    return document
