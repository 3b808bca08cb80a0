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

    async def seek_wait(self, offsets: dict[TP, int]) -> None:
        self.seeks.append(dict(offsets))


@dataclass
class AppStandIn:
    consumer: ConsumerStandIn = field(default_factory=ConsumerStandIn)
    flow_control: Flow = field(default_factory=Flow)
    consumer_generation_id: int = 1


def events(partition: int, *offsets: int, generation: int = 1) -> list[Any]:
    return [Event(Message(partition, offset, generation)) for offset in offsets]


def offsets_of(batch: list[Any]) -> list[int]:
    return [event.message.offset for event in batch]


async def test_in_order_records_from_the_committed_offset_are_admitted() -> None:
    app = AppStandIn()
    app.consumer._committed_offset[TP(TOPIC, 0)] = 10
    gate = DeliveryGate(app)
    admission = gate.admit(events(0, 10, 11, 12) + events(1, 5, 6))
    assert offsets_of(admission.admitted) == [10, 11, 12, 5, 6]
    assert admission.held == [] and admission.seeks == {}


async def test_a_gap_holds_the_rest_of_the_partition_and_seeks_back() -> None:
    app = AppStandIn()
    app.consumer._committed_offset[TP(TOPIC, 0)] = 10
    gate = DeliveryGate(app)
    batch = events(0, 10, 14, 15) + events(1, 3)
    admission = gate.admit(batch)
    assert offsets_of(admission.admitted) == [10, 3]
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
    again = gate.admit(events(0, 11, 12, 13, 14, 15, 16, 12))
    assert offsets_of(again.admitted) == [11, 12, 13, 14, 15, 16, 12]
    assert again.held == []


async def test_the_first_record_after_a_rebalance_must_be_the_committed_one() -> None:
    app = AppStandIn()
    app.consumer._committed_offset[TP(TOPIC, 2)] = 100
    gate = DeliveryGate(app)
    admission = gate.admit(events(2, 101, 102))
    assert admission.admitted == []
    assert admission.seeks == {TP(TOPIC, 2): 100}


async def test_records_of_another_generation_or_during_a_rebalance_are_held() -> None:
    app = AppStandIn(consumer_generation_id=3)
    gate = DeliveryGate(app)
    stale = gate.admit(events(0, 7, 8, generation=2))
    assert stale.admitted == [] and offsets_of(stale.held) == [7, 8] and stale.seeks == {}

    app.flow_control.active = False
    paused = gate.admit(events(0, 7, generation=3))
    assert paused.admitted == [] and offsets_of(paused.held) == [7]


async def test_forgotten_partitions_start_again_from_the_committed_offset() -> None:
    app = AppStandIn()
    tp = TP(TOPIC, 0)
    app.consumer._committed_offset[tp] = 0
    gate = DeliveryGate(app)
    assert offsets_of(gate.admit(events(0, 0, 1, 2)).admitted) == [0, 1, 2]
    gate.forget({0})
    app.consumer._committed_offset[tp] = 1
    assert offsets_of(gate.admit(events(0, 1, 2, 3)).admitted) == [1, 2, 3]


async def test_offsets_that_never_come_back_are_given_up_after_the_seek_limit(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    now = [1000.0]
    monkeypatch.setattr(gate_module, "monotonic", lambda: now[0])
    app = AppStandIn()
    app.consumer._committed_offset[TP(TOPIC, 0)] = 5
    gate = DeliveryGate(app)
    seeks = 0
    for _ in range(MAX_SEEKS):
        admission = gate.admit(events(0, 9))
        assert admission.admitted == []
        seeks += len(admission.seeks)
        assert gate.admit(events(0, 9)).seeks == {}  # at most one seek per second
        now[0] += 2.0
    assert seeks == MAX_SEEKS
    assert offsets_of(gate.admit(events(0, 9, 10)).admitted) == [9, 10]
