"""The wire form of a simulated session: event ids, client clocks, duplicates and bad records.

:func:`encode_session` turns a session's planned events (:mod:`ingest.simulated_sessions`)
into :class:`SimulatedRecord`\\ s as a collector would pass them on:

- browser events carry ``ts`` from the client's clock (which may be skewed, and may be written
  with a UTC offset or microseconds), ``sent_at`` from the same clock when the client sends it,
  and ``received_at`` from the collector's clock when the session goes through the collector;
- backend events (``llm_usage``) carry an accurate ``ts`` and, mostly, no ``received_at``;
- a share of events is delivered twice (a retry after a lost acknowledgement; sometimes with the
  id in capitals, which is the same id);
- a share of extra records is bad, one of the given SPEC 2.4 reasons each.

Each record's Kafka timestamp is its ``received_at``, else its ``ts`` (SPEC 8). Pure.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date
from typing import NamedTuple

from ingest.accepted_event import RejectReason
from ingest.simulated_bad_records import MISMATCH_KEY_PREFIX, bad_value
from ingest.simulated_sessions import MINUTE, SECOND, PlannedEvent, between

VALID = "event"
DUPLICATE = "duplicate"


class SimulatedRecord(NamedTuple):
    """One record: ``kind`` is :data:`VALID`, :data:`DUPLICATE` or a reject reason's value."""

    arrival_ms: int  # true arrival at the collector: the order of traffic
    key: bytes
    value: bytes
    timestamp_ms: int  # Kafka record timestamp: received_at, else ts
    kind: str


@dataclass(frozen=True, slots=True)
class ClientClock:
    """How one session's browser stamps and sends its events."""

    skew_ms: int  # client clock minus true clock
    sends_sent_at: bool
    via_collector: bool  # the collector stamps received_at
    utc_offset_min: int  # ts written in this local offset
    microseconds: bool  # ts written with six fraction digits


def draw_client_clock(rng: random.Random) -> ClientClock:
    """Most clocks are right; some are seconds, minutes or hours off."""
    roll = rng.random()
    if roll < 0.75:
        skew = 0
    elif roll < 0.90:
        skew = between(rng, -30 * SECOND, 30 * SECOND)
    elif roll < 0.97:
        skew = rng.choice((-1, 1)) * between(rng, 1 * MINUTE, 20 * MINUTE)
    elif roll < 0.99:
        skew = between(rng, 61 * MINUTE, 3 * 60 * MINUTE)  # ahead more than an hour
    else:
        skew = -between(rng, 60 * MINUTE, 24 * 60 * MINUTE)
    offset = 0 if rng.random() < 0.8 else rng.choice((-480, -300, 60, 120, 330, 540))
    return ClientClock(
        skew_ms=skew,
        sends_sent_at=rng.random() < 0.6,
        via_collector=rng.random() < 0.95,
        utc_offset_min=offset,
        microseconds=rng.random() < 0.1,
    )


_SECOND_PREFIX: dict[tuple[int, int], str] = {}
_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()


def _offset_suffix(offset_min: int) -> str:
    if offset_min == 0:
        return "Z"
    sign = "+" if offset_min > 0 else "-"
    return f"{sign}{abs(offset_min) // 60:02d}:{abs(offset_min) % 60:02d}"


def _second_prefix(local_second: int) -> str:
    day, second_of_day = divmod(local_second, 86_400)
    d = date.fromordinal(_EPOCH_ORDINAL + day)
    hour, rest = divmod(second_of_day, 3600)
    minute, second = divmod(rest, 60)
    return f"{d.year:04d}-{d.month:02d}-{d.day:02d}T{hour:02d}:{minute:02d}:{second:02d}."


def format_time(epoch_ms: int, offset_min: int = 0, micros: int | None = None) -> str:
    """RFC 3339 text of ``epoch_ms`` in a UTC offset; ``micros`` adds three more digits."""
    local_second, millis = divmod(epoch_ms + offset_min * 60_000, 1000)
    cache_key = (local_second, offset_min)
    prefix = _SECOND_PREFIX.get(cache_key)
    if prefix is None:
        if len(_SECOND_PREFIX) > 200_000:
            _SECOND_PREFIX.clear()
        prefix = _SECOND_PREFIX[cache_key] = _second_prefix(local_second) + "%03d"
    if micros is None and offset_min == 0:
        return prefix % millis + "Z"
    extra = "" if micros is None else f"{micros:03d}"
    return prefix % millis + extra + _offset_suffix(offset_min)


_UUID_CLEAR = ~((0xF << 76) | (0xC << 60))
_UUID_SET = (0x4 << 76) | (0x8 << 60)


def random_uuid(rng: random.Random) -> str:
    """A version-4 UUID drawn from ``rng`` (deterministic, unlike ``uuid.uuid4``)."""
    h = "%032x" % ((rng.getrandbits(128) & _UUID_CLEAR) | _UUID_SET)
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


_ENCODE = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode


TOO_LARGE_WEIGHT = 0.2
"""``too_large`` records are drawn this much less often than the other reasons: each one is
over 64 KiB, and at an equal share they would make up a third of a file's bytes."""


def _draw_reason(rng: random.Random, kinds: tuple[RejectReason, ...]) -> RejectReason:
    weights = [TOO_LARGE_WEIGHT if k is RejectReason.TOO_LARGE else 1.0 for k in kinds]
    return rng.choices(kinds, weights)[0]


@dataclass(slots=True)
class SessionWire:
    """Everything :func:`encode_session` needs besides the planned events."""

    session_id: str
    user_id: str | None
    clock: ClientClock
    duplicate_share: float
    bad_share: float
    bad_kinds: tuple[RejectReason, ...]


def encode_session(
    planned: Iterable[PlannedEvent], wire: SessionWire, rng: random.Random
) -> Iterator[SimulatedRecord]:
    """The session's records in its own order, lazily."""
    session_id = wire.session_id
    key = session_id.encode("utf-8")
    session_json = _ENCODE(session_id)
    clock = wire.clock
    user_id = wire.user_id
    for event in planned:
        fields = event.fields
        if "user_id" in fields:
            user_id = fields["user_id"]
        true_ms = event.at_ms
        if wire.bad_kinds and rng.random() < wire.bad_share:
            reason = _draw_reason(rng, wire.bad_kinds)
            value = bad_value(
                reason,
                rng,
                event_id=random_uuid(rng),
                session_id=session_id,
                at_ms=true_ms,
                time_text=format_time,
            )
            bad_key = MISMATCH_KEY_PREFIX + key if reason is RejectReason.KEY_MISMATCH else key
            yield SimulatedRecord(true_ms, bad_key, value, true_ms, reason.value)
        event_id = random_uuid(rng)
        if event.from_server:
            ts_ms = true_ms
            times = ',"ts":"' + format_time(true_ms) + '"'
            arrival = true_ms + between(rng, 1, 50)
            stamped = rng.random() < 0.3
        else:
            ts_ms = true_ms + clock.skew_ms
            micros = between(rng, 0, 999) if clock.microseconds else None
            times = ',"ts":"' + format_time(ts_ms, clock.utc_offset_min, micros) + '"'
            send_delay = between(rng, 0, 1500)
            if clock.sends_sent_at:
                times += ',"sent_at":"' + format_time(ts_ms + send_delay) + '"'
            arrival = true_ms + send_delay + between(rng, 15, 400)
            stamped = clock.via_collector
        # The envelope is plain ASCII (ids, times) and the session id is JSON-encoded once:
        # only the event's own fields go through the JSON encoder.
        tail = _ENCODE(fields)[1:]
        if user_id is not None and "user_id" not in fields and rng.random() < 0.9:
            tail = '"user_id":"' + user_id + '",' + tail
        if stamped:
            timestamp = arrival
            received = ',"received_at":"' + format_time(arrival) + '",'
        else:
            timestamp = ts_ms
            received = ","
        text = '{"event_id":"' + event_id + '","session_id":' + session_json + times
        yield SimulatedRecord(arrival, key, (text + received + tail).encode(), timestamp, VALID)
        if rng.random() < wire.duplicate_share:
            retry = arrival + between(rng, 200, 8000)
            if rng.random() < 0.25:
                text = text.replace(event_id, event_id.upper(), 1)
            if stamped:
                received = ',"received_at":"' + format_time(retry) + '",'
                timestamp = retry
            value = (text + received + tail).encode()
            yield SimulatedRecord(retry, key, value, timestamp, DUPLICATE)
