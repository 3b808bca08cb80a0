"""Encoded session state formats: 2 is written (ids packed, base64), 1 is still read."""

from __future__ import annotations

import base64
import json
from decimal import Decimal

import pytest

from streams.session_state import RECENT_EVENT_IDS, new_session_state
from streams.state_codec import STATE_FORMAT, StateDecodeError, decode_state, encode_state

FIRST = "0b7e3c1e-0000-4000-8000-000000000001"
SECOND = "9f1d2e3c-4b5a-4c6d-8e7f-a0b1c2d3e4f5"

FORMAT_1 = (
    b'{"f":1,"sid":"s-1","seq":2,"uid":"6f1c2a1e-0000-4000-8000-000000000001",'
    b'"arr":1795600805000,"ids":["0b7e3c1e-0000-4000-8000-000000000001",'
    b'"9f1d2e3c-4b5a-4c6d-8e7f-a0b1c2d3e4f5"],"int":{"click":3},"goal":{"signup":1795600801000},'
    b'"feat":{},"meta":{"plan":"pro"},"b":[1795600800000,1795600805000,["/a","/b"],[0,4000],'
    b'{"/a":120},[{"type":"TypeError","page":"/a","time":10}],'
    b'[{"model":"m","tokens":7,"cost":0.25,"timestamp":"2026-11-25T10:00:02Z"}],'
    b'7,"0.25",5,false,true]}'
)
"""A format-1 state as the code before format 2 wrote it (ids as a JSON list)."""


def test_format_1_is_still_read() -> None:
    state = decode_state(FORMAT_1)
    assert state.session_id == "s-1" and state.batch_seq == 2
    assert state.user_id == "6f1c2a1e-0000-4000-8000-000000000001"
    assert state.last_arrival_ms == 1_795_600_805_000
    assert state.recent_event_ids.as_list() == [FIRST, SECOND]
    assert state.recent_event_ids.contains(SECOND.upper())
    assert state.interaction_summary == {"click": 3}
    assert state.goal_events == {"signup": 1_795_600_801_000}
    assert state.metadata == {"plan": "pro"}
    batch = state.batch
    assert batch.path_sequence == ["/a", "/b"] and batch.path_timings == [0, 4000]
    assert batch.page_load_times == {"/a": 120}
    assert list(batch.error_events) == [{"type": "TypeError", "page": "/a", "time": 10}]
    assert batch.llm_token_usage == 7 and batch.llm_cost_estimate == Decimal("0.25")
    assert (batch.version, batch.closed, batch.dirty) == (5, False, True)


def test_a_format_1_state_is_written_again_as_the_current_format() -> None:
    state = decode_state(FORMAT_1)
    encoded = encode_state(state)
    document = json.loads(encoded)
    assert document["f"] == STATE_FORMAT == 2
    assert isinstance(document["ids"], str)
    packed = base64.b64decode(document["ids"])
    assert packed == b"\x00\x02" + bytes.fromhex(FIRST.replace("-", "") + SECOND.replace("-", ""))
    assert decode_state(encoded) == state


def test_format_1_keeps_the_last_512_ids() -> None:
    ids = [f"00000000-0000-4000-8000-{n:012x}" for n in range(RECENT_EVENT_IDS + 20)]
    document = json.loads(FORMAT_1)
    document["ids"] = ids
    state = decode_state(json.dumps(document).encode())
    assert state.recent_event_ids.as_list() == ids[20:]


def test_current_format_round_trips_ids() -> None:
    state = new_session_state("s-2")
    state.recent_event_ids.remember(SECOND.upper())
    state.recent_event_ids.remember(FIRST)
    back = decode_state(encode_state(state))
    assert back == state
    assert back.recent_event_ids.as_list() == [SECOND, FIRST]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("f", 3),
        ("f", 0),
        ("f", True),
        ("f", 1.0),
        ("f", None),
        ("f", [1]),
        ("ids", "not base64!"),
        ("ids", base64.b64encode(b"\x00\x05" + bytes(16)).decode()),
        ("ids", [FIRST]),
    ],
)
def test_other_formats_and_bad_ids_are_refused(field: str, value: object) -> None:
    document = json.loads(encode_state(decode_state(FORMAT_1)))
    document[field] = value
    with pytest.raises(StateDecodeError):
        decode_state(json.dumps(document).encode())


@pytest.mark.parametrize("ids", ["AAA=", [FIRST, 7], {"a": 1}])
def test_format_1_refuses_ids_that_are_not_a_list_of_strings(ids: object) -> None:
    document = json.loads(FORMAT_1)
    document["ids"] = ids
    with pytest.raises(StateDecodeError):
        decode_state(json.dumps(document).encode())
