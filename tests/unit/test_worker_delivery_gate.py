"""The delivery gate: a partition's records reach the fold only in offset order from the commit.

The app here is a stand-in holding only the attributes the gate reads (flow state, generation,
committed offsets, the consumer's unacked set and its seek requests); no Kafka behaviour is
imitated. The end-to-end fault test proves the gate against a real broker.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest
from faust.types import TP

import streams.delivery_gate as gate_module
from streams.delivery_gate import MAX_SEEKS, DeliveryGate
from streams.offset_authority import StallWatchdog, install_commit_authority

TOPIC = "raw"


@dataclass
class Message:
    partition: int
    offset: int
    generation_id: int = 1
    topic: str = TOPIC
    acked: bool = False

    @property
    def tp(self) -> TP:
        return TP(self.topic, self.partition)

    def __hash__(self) -> int:
        return id(self)


@dataclass
class Event:
    message: Message


@dataclass
class Flow:
    active: bool = True

    def is_active(self) -> bool:
        return self.active


@dataclass
class ConsumerStandIn:
    _committed_offset: dict[TP, int] = field(default_factory=dict)
    _unacked_messages: set[Message] = field(default_factory=set)
    seeks: list[dict[TP, int]] = field(default_factory=list)
    log_start: dict[TP, int] = field(default_factory=dict)

    async def earliest_offsets(self, *tps: TP) -> dict[TP, int]:
        return {tp: self.log_start.get(tp, 0) for tp in tps}

    positions: dict[TP, int] = field(default_factory=dict)
    _paused_partitions: set[TP] = field(default_factory=set)
    _acked: dict[TP, list[int]] = field(default_factory=dict)
    _acked_index: dict[TP, set[int]] = field(default_factory=dict)

    async def seek_wait(self, offsets: dict[TP, int]) -> None:
        self.seeks.append(dict(offsets))

    async def position(self, tp: TP) -> int | None:
        return self.positions.get(tp)

    def assignment(self) -> set[TP]:
        return set(self.positions)

    def _new_offset(self, tp: TP) -> int | None:
        return -1  # Faust's rule, kept for other topics


@dataclass
class AppStandIn:
    consumer: ConsumerStandIn = field(default_factory=ConsumerStandIn)
    flow_control: Flow = field(default_factory=Flow)
    consumer_generation_id: int = 1


def events(partition: int, *offsets: int, generation: int = 1) -> list[Any]:
    return [Event(Message(partition, offset, generation)) for offset in offsets]


def offsets_of(batch: list[Any]) -> list[int]:
    return [event.message.offset for event in batch]


async def admitted(gate: DeliveryGate, batch: list[Any]) -> list[int]:
    return offsets_of((await gate.admit(batch)).admitted)


async def test_in_order_records_from_the_committed_offset_are_admitted() -> None:
    app = AppStandIn()
    app.consumer._committed_offset[TP(TOPIC, 0)] = 10
    gate = DeliveryGate(app)
    admission = await gate.admit(events(0, 10, 11, 12) + events(1, 0, 1))
    assert offsets_of(admission.admitted) == [10, 11, 12, 0, 1]
    assert admission.held == [] and admission.seeks == {}


async def test_without_a_commit_a_partition_starts_at_its_log_start_not_its_first_record() -> None:
    app = AppStandIn()
    app.consumer.log_start[TP(TOPIC, 1)] = 3
    gate = DeliveryGate(app)
    admission = await gate.admit(events(1, 5, 6))  # 3 and 4 were dropped before the fold
    assert admission.admitted == [] and admission.seeks == {TP(TOPIC, 1): 3}
    assert await admitted(gate, events(1, 3, 4, 5, 6)) == [3, 4, 5, 6]


async def test_a_gap_holds_the_rest_of_the_partition_and_seeks_back() -> None:
    app = AppStandIn()
    app.consumer._committed_offset[TP(TOPIC, 0)] = 10
    gate = DeliveryGate(app)
    batch = events(0, 10, 14, 15) + events(1, 0)
    admission = await gate.admit(batch)
    assert offsets_of(admission.admitted) == [10, 0]
    assert offsets_of(admission.held) == [14, 15]
    assert admission.seeks == {TP(TOPIC, 0): 11}
    for event in batch:
        app.consumer._unacked_messages.add(event.message)
    await gate.release(admission)
    assert app.consumer.seeks == [{TP(TOPIC, 0): 11}]
    held = {id(event.message) for event in admission.held}
    assert all(event.message.acked for event in admission.held)  # Faust's ack records nothing
    assert not any(id(message) in held for message in app.consumer._unacked_messages)

    # the re-fetched records arrive, then the ones held back, then re-deliveries
    again = await gate.admit(events(0, 11, 12, 13, 14, 15, 16, 12))
    assert offsets_of(again.admitted) == [11, 12, 13, 14, 15, 16]
    assert again.held == [] and offsets_of(again.redelivered) == [12]  # never folded twice


async def test_the_first_record_after_a_rebalance_must_be_the_committed_one() -> None:
    app = AppStandIn()
    app.consumer._committed_offset[TP(TOPIC, 2)] = 100
    gate = DeliveryGate(app)
    admission = await gate.admit(events(2, 101, 102))
    assert admission.admitted == []
    assert admission.seeks == {TP(TOPIC, 2): 100}


async def test_records_of_another_generation_or_during_a_rebalance_are_held() -> None:
    app = AppStandIn(consumer_generation_id=3)
    gate = DeliveryGate(app)
    stale = await gate.admit(events(0, 7, 8, generation=2))
    assert stale.admitted == [] and offsets_of(stale.held) == [7, 8] and stale.seeks == {}

    app.flow_control.active = False
    paused = await gate.admit(events(0, 7, generation=3))
    assert paused.admitted == [] and offsets_of(paused.held) == [7]


async def test_forgotten_partitions_start_again_from_the_committed_offset() -> None:
    app = AppStandIn()
    tp = TP(TOPIC, 0)
    gate = DeliveryGate(app)
    assert await admitted(gate, events(0, 0, 1, 2)) == [0, 1, 2]
    gate.forget({0})
    app.consumer._committed_offset[tp] = 1
    assert await admitted(gate, events(0, 1, 2, 3)) == [1, 2, 3]


async def test_offsets_are_skipped_only_when_the_log_no_longer_holds_them(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    now = [1000.0]
    monkeypatch.setattr(gate_module, "monotonic", lambda: now[0])
    app = AppStandIn()
    tp = TP(TOPIC, 0)
    app.consumer._committed_offset[tp] = 5
    gate = DeliveryGate(app)
    seeks = 0
    for _ in range(MAX_SEEKS + 3):  # the records exist: the gate keeps asking for them
        admission = await gate.admit(events(0, 9))
        assert admission.admitted == []
        seeks += len(admission.seeks)
        assert (await gate.admit(events(0, 9))).seeks == {}  # at most one seek per second
        now[0] += 2.0
    assert seeks == MAX_SEEKS + 3
    app.consumer.log_start[tp] = 8  # retention deleted 5..7
    assert await admitted(gate, events(0, 9, 10)) == []  # 8 is still missing
    assert await admitted(gate, events(0, 8, 9, 10)) == [8, 9, 10]


async def test_only_offsets_whose_effects_are_acknowledged_become_committable() -> None:
    app = AppStandIn()
    tp = TP(TOPIC, 0)
    app.consumer._committed_offset[tp] = 4
    gate = DeliveryGate(app)
    assert await admitted(gate, events(0, 4, 5, 9)) == [4, 5]
    assert gate.processed(0) is None  # not folded and written yet
    gate.mark_all_processed()
    assert gate.processed(0) == 6  # 9 was held: the gap 6..8 is not passed

    install_commit_authority(app.consumer, TOPIC, gate)
    app.consumer._acked[tp] = [4, 5, 9, 10]  # what Faust's acks say: they are not trusted
    app.consumer._acked_index[tp] = {4, 5, 9, 10}
    assert app.consumer._new_offset(tp) == 6
    assert app.consumer._acked[tp] == [9, 10] and app.consumer._acked_index[tp] == {9, 10}
    assert app.consumer._new_offset(TP("other", 0)) == -1
    gate.forget({0})
    assert app.consumer._new_offset(tp) is None


async def test_the_watchdog_seeks_back_a_partition_whose_records_never_reached_the_fold(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    now = [1000.0]
    monkeypatch.setattr(gate_module, "monotonic", lambda: now[0])
    monkeypatch.setattr("streams.offset_authority.monotonic", lambda: now[0])
    app = AppStandIn()
    stalled, busy, done = TP(TOPIC, 0), TP(TOPIC, 1), TP(TOPIC, 2)
    app.consumer._committed_offset.update({stalled: 10, busy: 0, done: 7})
    app.consumer.positions.update({stalled: 20, busy: 50, done: 7})
    gate = DeliveryGate(app)
    watchdog = StallWatchdog(app, TOPIC, gate, stall_after_s=3.0)
    await gate.admit(events(0, 10, 11, generation=0))  # fetched, then dropped as stale
    await gate.admit(events(1, 0, 1))
    now[0] += 2.0
    assert await watchdog.check() == {}  # not idle long enough
    now[0] += 2.0
    await gate.admit(events(1, 2))
    assert await watchdog.check() == {stalled: 10}  # partition 2 is simply at its end
    assert app.consumer.seeks == [{stalled: 10}]
    assert await watchdog.check() == {}  # at most one seek a second
    app.flow_control.active = False
    now[0] += 10.0
    assert await watchdog.check() == {}  # never during a rebalance
