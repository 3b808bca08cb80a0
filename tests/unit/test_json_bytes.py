"""compact_json: same parsed value as the standard library, and every value encodes."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from streams.json_bytes import compact_json

JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=20,
)


@given(JSON_VALUES, st.booleans())
def test_parses_back_to_the_value_and_to_what_the_standard_library_writes(
    value: Any, sort_keys: bool
) -> None:
    encoded = compact_json(value, sort_keys=sort_keys)
    standard = json.dumps(value, sort_keys=sort_keys, ensure_ascii=False, separators=(",", ":"))
    assert json.loads(encoded.decode("utf-8", "surrogatepass")) == json.loads(standard)


def test_sorted_keys_are_in_code_point_order_and_compact() -> None:
    assert compact_json({"b": 1, "a": [1, 2], "é": None}, sort_keys=True) == (
        '{"a":[1,2],"b":1,"é":null}'.encode()
    )
    assert compact_json({"b": 1, "a": 2}) == b'{"b":1,"a":2}'


def test_values_orjson_refuses_still_encode() -> None:
    big = 2**64 + 1
    assert compact_json({"n": big}) == b'{"n":18446744073709551617}'
    assert compact_json({"s": "x\ud800y"}) == '{"s":"x\ud800y"}'.encode("utf-8", "surrogatepass")
    assert compact_json({1: "int key"}) == b'{"1":"int key"}'
