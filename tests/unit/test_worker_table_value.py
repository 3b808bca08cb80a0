"""The worker's stored-session format: header (dirty flag, raw position) + encoded state."""

from __future__ import annotations

import struct

import pytest

from streams.session_state import new_session_state
from streams.state_codec import encode_state
from streams.table_value import (
    HEADER_SIZE,
    StoredSession,
    TableValueError,
    decode_stored,
    encode_stored,
    read_header,
)


def test_round_trip_keeps_state_and_position() -> None:
    state = new_session_state("s-1")
    state.batch_seq = 3
    state.batch.version = 7
    state.batch.dirty = True
    state.recent_event_ids.remember("0b7e3c1e-0000-4000-8000-000000000001")
    value = encode_stored(StoredSession(state, partition=4, offset=12_345_678_901))

    assert value[HEADER_SIZE:] == encode_state(state)
    back = decode_stored(value)
    assert (back.partition, back.offset) == (4, 12_345_678_901)
    assert encode_state(back.state) == encode_state(state)
    assert back.state.recent_event_ids.as_list() == ["0b7e3c1e-0000-4000-8000-000000000001"]


@pytest.mark.parametrize("dirty", [True, False])
def test_header_says_whether_the_batch_was_dirty(dirty: bool) -> None:
    state = new_session_state("s-2")
    state.batch.dirty = dirty
    header = read_header(encode_stored(StoredSession(state, partition=0, offset=5)))
    assert header.dirty is dirty
    assert (header.partition, header.offset) == (0, 5)


def test_already_applied_is_per_partition_and_inclusive() -> None:
    stored = StoredSession(new_session_state("s-3"), partition=2, offset=100)
    assert stored.already_applied(2, 100)
    assert stored.already_applied(2, 3)
    assert not stored.already_applied(2, 101)
    assert not stored.already_applied(1, 50)


@pytest.mark.parametrize(
    "value",
    [b"", b"\x01\x00", struct.pack(">BBiq", 9, 0, 0, 0) + b"{}", struct.pack(">BBiq", 1, 0, 0, 0)],
)
def test_foreign_bytes_are_refused(value: bytes) -> None:
    with pytest.raises(TableValueError):
        decode_stored(value)
