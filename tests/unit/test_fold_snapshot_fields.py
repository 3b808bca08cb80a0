"""SPEC 4-5: derived fields (session_type, batch_id), the snapshot's keys, times, encoding."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ingest.accepted_event import AcceptedEvent
from streams.snapshot import (
    BATCH_ID_NAMESPACE,
    SNAPSHOT_KEYS,
    batch_id,
    encode_snapshot,
    format_ms,
    make_snapshot,
)
from tests.unit.distinct_page_views import paths
from tests.unit.fold_events import GAP_MS, SESSION, event, fold, page


@pytest.mark.parametrize(
    ("events", "expected"),
    [
        ([page("/a", 0)], "bounce"),
        ([page("/a", 0), event("interaction", 1, name="x")], "bounce"),
        ([page("/a", 0), event("interaction", 1, name="x"), event("interaction", 2, name="y")],
         "standard"),
        ([event("context", 0, metadata={})], "standard"),  # no path at all
        (paths(5), "standard"),
        (paths(6), "exploration"),
        ([page("/a", 0), event("goal", 1, name="g")], "conversion"),
        ([*paths(7), event("goal", 9000, name="g")], "conversion"),
        # interactions of an earlier batch count (the summary is cumulative)
        ([event("interaction", 0, name="x"), event("interaction", 1, name="x"),
          page("/b", GAP_MS + 10)], "standard"),
        # a goal of an earlier batch counts too
        ([event("goal", 0, name="g"), page("/b", GAP_MS + 10)], "conversion"),
    ],
)  # fmt: skip
def test_session_type(events: list[AcceptedEvent], expected: str) -> None:
    state, _ = fold(events)
    snapshot = make_snapshot(state)
    assert snapshot["session_type"] == expected
    assert snapshot["conversion_achieved"] is (expected == "conversion")


def test_batch_id_matches_the_spec_examples() -> None:
    # Values from /work/shared/spec/examples (01-basic-shape, 02-rotation).
    assert batch_id("s-basic", 0) == "c90aa597-9bd9-57c3-8a61-ded63d67d674"
    assert batch_id("s-rotate", 1) == "cc00ac99-2fff-5046-be5e-5a221e98afdc"
    assert batch_id("s-rotate", 2) == "faaaa630-ca0f-50d5-9abb-d25bd8d740a8"


@given(
    st.text(min_size=1, max_size=128).filter(
        lambda s: s.encode("utf-8", "surrogatepass") == s.encode("utf-8", "ignore")
    ),
    st.integers(0, 2**31 - 1),
)
def test_batch_id_is_the_uuid5_of_session_and_seq(session_id: str, batch_seq: int) -> None:
    expected = str(uuid.uuid5(BATCH_ID_NAMESPACE, f"{session_id}:{batch_seq}"))
    assert batch_id(session_id, batch_seq) == expected


def test_snapshot_has_exactly_the_spec_keys() -> None:
    state, _ = fold([page("/a", 0), page("/b", 1)])
    snapshot = make_snapshot(state)
    assert set(snapshot) == set(SNAPSHOT_KEYS)
    assert len(SNAPSHOT_KEYS) == 23
    assert snapshot["entry_point"] == "/a" and snapshot["exit_point"] == "/b"
    assert snapshot["batch_id"] == batch_id(SESSION, 0)


@pytest.mark.parametrize(
    "moment",
    [
        datetime(2000, 1, 1, tzinfo=UTC),
        datetime(2026, 11, 25, 10, 0, 0, 120_000, tzinfo=UTC),
        datetime(2028, 2, 29, 23, 59, 59, 999_000, tzinfo=UTC),
        datetime(9999, 12, 31, 23, 59, 59, 999_000, tzinfo=UTC),
    ],
)
def test_times_are_rfc3339_utc_with_milliseconds(moment: datetime) -> None:
    epoch_ms = (moment - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(milliseconds=1)
    text = format_ms(epoch_ms)
    assert text == moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
    assert datetime.fromisoformat(text.replace("Z", "+00:00")) == moment


def test_snapshot_encoding_is_canonical() -> None:
    state, _ = fold([page("/é", 0), event("context", 1, metadata={"b": 1, "a": "ü"})])
    encoded = encode_snapshot(make_snapshot(state))
    assert encoded.startswith(b'{"batch_id":')
    assert "/é".encode() in encoded and b"\\u" not in encoded
    assert b", " not in encoded and b": " not in encoded
    assert json.loads(encoded) == make_snapshot(state)
