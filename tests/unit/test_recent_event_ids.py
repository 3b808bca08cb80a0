"""The compact store of a session's last accepted event ids (SPEC 2.1: duplicates)."""

from __future__ import annotations

import copy
import uuid
from collections import deque

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from streams.recent_event_ids import RECENT_EVENT_IDS, RecentEventIds, uuid_bytes, uuid_text


def ids(count: int, start: int = 1) -> list[str]:
    """Distinct lower-case UUIDs (random-looking, so that no two share long byte runs)."""
    spread = 0x9E3779B97F4A7C15F39CC0605CEDC834
    return [str(uuid.UUID(int=n * spread % 2**128)) for n in range(start, start + count)]


def test_remembers_the_last_512_in_order_and_forgets_the_oldest() -> None:
    given_ids = ids(RECENT_EVENT_IDS + 3)
    recent = RecentEventIds()
    for event_id in given_ids:
        recent.remember(event_id)
    assert len(recent) == RECENT_EVENT_IDS == 512
    assert recent.as_list() == given_ids[3:]
    assert list(recent) == given_ids[3:]
    for forgotten in given_ids[:3]:
        assert not recent.contains(forgotten)
    for kept in (given_ids[3], given_ids[200], given_ids[-1]):
        assert recent.contains(kept)


def test_exactly_512_are_kept_before_the_first_eviction() -> None:
    given_ids = ids(RECENT_EVENT_IDS)
    recent = RecentEventIds(given_ids)
    assert recent.contains(given_ids[0])
    recent.remember(ids(1, start=10_000)[0])
    assert not recent.contains(given_ids[0])
    assert recent.contains(given_ids[1])


def test_upper_case_input_is_the_same_id_as_lower_case() -> None:
    lower = "0a0b0c0d-0000-4000-8000-00000000abcd"
    upper = lower.upper()
    recent = RecentEventIds([upper])
    assert recent.as_list() == [lower]
    assert recent.contains(lower) and recent.contains(upper)
    assert recent.contains("0A0b0C0d-0000-4000-8000-00000000AbCd")
    assert recent == RecentEventIds([lower])
    assert RecentEventIds([lower]).contains(upper)


def test_empty() -> None:
    recent = RecentEventIds()
    assert len(recent) == 0 and recent.as_list() == []
    assert not recent.contains(ids(1)[0])
    assert RecentEventIds.from_bytes(recent.to_bytes()) == recent


@pytest.mark.parametrize("count", [0, 1, 37, RECENT_EVENT_IDS, RECENT_EVENT_IDS + 100])
def test_bytes_round_trip(count: int) -> None:
    given_ids = ids(count)
    recent = RecentEventIds(given_ids)
    data = recent.to_bytes()
    assert len(data) == 2 + 16 * min(count, RECENT_EVENT_IDS)
    back = RecentEventIds.from_bytes(data)
    assert back == recent
    assert back.as_list() == given_ids[-RECENT_EVENT_IDS:]
    assert back.to_bytes() == data
    more = ids(5, start=50_000)
    for event_id in more:
        back.remember(event_id)
        recent.remember(event_id)
    assert back == recent and back.as_list() == recent.as_list()


def test_bytes_hold_the_ids_oldest_first() -> None:
    given_ids = ids(RECENT_EVENT_IDS + 7)  # the ring has wrapped
    data = RecentEventIds(given_ids).to_bytes()
    assert data[:2] == (512).to_bytes(2, "big")
    assert data[2:] == b"".join(uuid.UUID(i).bytes for i in given_ids[7:])


def test_from_bytes_keeps_the_newest_when_over_capacity() -> None:
    given_ids = ids(10)
    back = RecentEventIds.from_bytes(RecentEventIds(given_ids).to_bytes(), capacity=4)
    assert back.capacity == 4
    assert back.as_list() == given_ids[-4:]


@pytest.mark.parametrize(
    "data",
    [b"", b"\x00", b"\x00\x02" + bytes(16), b"\x00\x01" + bytes(16) + b"\x00\x05\x00\x00\x00\x01x"],
)
def test_from_bytes_refuses_malformed_data(data: bytes) -> None:
    with pytest.raises(ValueError):
        RecentEventIds.from_bytes(data)


def test_equality_is_by_ids_in_order_and_capacity() -> None:
    a, b = ids(2)
    assert RecentEventIds([a, b]) == RecentEventIds([a, b])
    assert RecentEventIds([a, b]) != RecentEventIds([b, a])
    assert RecentEventIds([a]) != RecentEventIds([a, b])
    assert RecentEventIds([a], capacity=4) != RecentEventIds([a], capacity=5)
    wrapped = RecentEventIds(ids(7), capacity=4)  # oldest slot is not the first one
    assert wrapped == RecentEventIds.from_bytes(wrapped.to_bytes(), capacity=4)
    assert RecentEventIds() != [a]
    with pytest.raises(TypeError):
        hash(RecentEventIds())


def test_copies_are_independent() -> None:
    a, b, c = ids(3)
    original = RecentEventIds([a, b], capacity=2)
    for duplicate in (copy.deepcopy(original), copy.copy(original), original.copy()):
        assert duplicate == original
        duplicate.remember(c)
        assert duplicate.as_list() == [b, c]
        assert original.as_list() == [a, b]


def test_an_id_straddling_two_slots_is_not_found() -> None:
    first = bytes(range(16))
    second = bytes(range(16, 32))
    recent = RecentEventIds([uuid_text(first), uuid_text(second)])
    straddling = uuid_text(first[8:] + second[:8])
    assert not recent.contains(straddling)
    recent.remember(straddling)
    assert recent.contains(straddling)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "not-a-uuid",
        "0b7e3c1e00004000800000000000000000001",  # no hyphens, 37 characters
        "0b7e3c1e-0000-4000-8000-00000000000",  # 35 characters
        "0b7e3c1e-0000-4000-8000-0000000000001",  # 37 characters
        "0b7e3c1e-0000-4000-800-00000000000001",  # a hyphen misplaced
        "0b7e3c1e-0000-4000-8000-0000000-0001",  # a fifth hyphen
        "0b7e3c1e-0000-4000-8000-00000000000g",
        "0b7e3c1e-0000-4000-8000-00000000 001",
        "0b7e3c1e-0000-4000-8000-0000000000٣1",  # an Arabic-Indic digit
        "{b7e3c1e-0000-4000-8000-000000000001}",
        "0b7e3c1e-0000-4000-8000-00000000_001",
    ],
)
def test_uuid_bytes_refuses_anything_but_the_8_4_4_4_12_form(text: str) -> None:
    assert uuid_bytes(text) is None


def test_uuid_bytes_and_text_agree_with_the_uuid_module() -> None:
    extremes = ["00000000-0000-0000-0000-000000000000", "FFFFFFFF-FFFF-FFFF-FFFF-FFFFFFFFFFFF"]
    for text in [*ids(50), *extremes]:
        value = uuid_bytes(text)
        assert value is not None and value == uuid.UUID(text).bytes
        assert uuid_text(value) == str(uuid.UUID(text))


def test_a_non_uuid_id_is_kept_exactly_and_never_matches_another() -> None:
    nil = "00000000-0000-0000-0000-000000000000"
    recent = RecentEventIds(["Not-A-UUID"])
    assert recent.as_list() == ["not-a-uuid"]
    assert recent.contains("not-a-uuid") and recent.contains("NOT-A-UUID")
    assert not recent.contains(nil)  # its slot's bytes are zeros, but that is no match
    assert not recent.contains("not-a-uuid2")
    recent.remember(nil)
    assert recent.contains(nil)
    back = RecentEventIds.from_bytes(recent.to_bytes())
    assert back == recent and back.as_list() == ["not-a-uuid", nil]
    assert RecentEventIds(["x"]) != RecentEventIds([nil])


def test_a_non_uuid_id_is_forgotten_like_any_other() -> None:
    a, b = ids(2)
    recent = RecentEventIds(["odd one", a], capacity=2)
    recent.remember(b)
    assert recent.as_list() == [a, b]
    assert not recent.contains("odd one")
    assert recent == RecentEventIds([a, b], capacity=2)


POOL = [*ids(6), "odd", "Odd-Two", "\udc80 lone surrogate"]


@settings(max_examples=200, deadline=None)
@given(
    steps=st.lists(
        st.tuples(st.sampled_from(POOL), st.booleans()),
        max_size=40,
    ),
    capacity=st.integers(1, 5),
)
def test_behaves_like_a_bounded_deque_of_lower_case_text(
    steps: list[tuple[str, bool]], capacity: int
) -> None:
    recent = RecentEventIds(capacity=capacity)
    model: deque[str] = deque(maxlen=capacity)
    for event_id, upper in steps:
        given_id = event_id.upper() if upper else event_id
        recent.remember(given_id)
        model.append(given_id.lower())
        assert recent.as_list() == list(model)
        assert len(recent) == len(model)
        for candidate in POOL:
            assert recent.contains(candidate) is (candidate.lower() in model)
    back = RecentEventIds.from_bytes(recent.to_bytes(), capacity=capacity)
    assert back == recent and back.as_list() == list(model)
    assert back == RecentEventIds(model, capacity=capacity)


@pytest.mark.parametrize("capacity", [0, -1, 65_536])
def test_capacity_must_fit_the_count_field(capacity: int) -> None:
    with pytest.raises(ValueError):
        RecentEventIds(capacity=capacity)
    with pytest.raises(ValueError):
        RecentEventIds.from_bytes(b"\x00\x00", capacity=capacity)
