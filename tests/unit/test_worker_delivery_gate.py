"""The delivery gate, the commit authority and the raw-partition handover of the worker.

The consumer here is a stand-in holding only the attributes these parts read or replace
(committed offsets, log starts, the assignment, Faust's pause/resume/seek methods); no Kafka
behaviour is imitated. The worker and end-to-end fault tests prove them against a real broker.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from faust.types import TP

from streams.delivery_gate import Admission, DeliveryGate
from streams.offset_authority import committed_start, install_commit_authority
from streams.raw_intake import RawPartitionHandover
from streams.raw_record import RawRecord

TOPIC = "raw"


@dataclass
class ConsumerStandIn:
    _committed_offset: dict[TP, int] = field(default_factory=dict)
    log_start: dict[TP, int] = field(default_factory=dict)
    assigned: set[TP] = field(default_factory=set)
    acked: set[TP] = field(default_factory=set)
    verified: list[TP] = field(default_factory=list)
    paused: list[set[TP]] = field(default_factory=list)
    resumed: list[set[TP]] = field(default_factory=list)
    seeks: int = 0

    async def earliest_offsets(self, *tps: TP) -> dict[TP, int]:
        return {tp: self.log_start.get(tp, 0) for tp in tps}

    def assignment(self) -> set[TP]:
        return set(self.assigned)

    def _new_offset(self, tp: TP) -> int | None:
        return -1  # Faust's rule, kept for other topics

    def _filter_tps_with_pending_acks(self, topics: object = None) -> list[TP]:
        return sorted(self.acked)

    def verify_event_path(self, now: float, tp: TP) -> None:
        self.verified.append(tp)

    def pause_partitions(self, tps: object) -> None:
        self.paused.append(set(tps))  # type: ignore[call-overload]

    def resume_partitions(self, tps: object) -> None:
        self.resumed.append(set(tps))  # type: ignore[call-overload]

    async def perform_seek(self) -> None:
        self.seeks += 1


@dataclass
class AppStandIn:
    consumer: ConsumerStandIn = field(default_factory=ConsumerStandIn)


@dataclass
class Record:  # the attributes of an aiokafka ConsumerRecord the worker reads
    topic: str
    partition: int
    offset: int
    timestamp: int = 0
    timestamp_type: int = 0
    key: bytes | None = b"k"
    value: bytes | None = b"v"


def records(partition: int, *offsets: int) -> list[RawRecord]:
    return [Record(TOPIC, partition, offset) for offset in offsets]


def offsets_of(batch: list[RawRecord]) -> list[int]:
    return [record.offset for record in batch]


def gate_of(app: AppStandIn) -> DeliveryGate:
    return DeliveryGate(committed_start(app))


async def admit(gate: DeliveryGate, batch: list[RawRecord]) -> Admission:
    """The gate's admission of ``batch``, grouped by partition as the raw reader hands it."""
    grouped: dict[int, list[RawRecord]] = {}
    for record in batch:
        grouped.setdefault(record.partition, []).append(record)
    return await gate.admit(grouped)


async def admitted(gate: DeliveryGate, batch: list[RawRecord]) -> list[int]:
    return offsets_of((await admit(gate, batch)).admitted)


async def test_in_order_records_from_the_committed_offset_are_admitted() -> None:
    app = AppStandIn()
    app.consumer._committed_offset[TP(TOPIC, 0)] = 10
    gate = gate_of(app)
    assert await gate.expected(TP(TOPIC, 0)) == 10
    admission = await admit(gate, records(0, 10, 11, 12) + records(1, 0, 1))
    assert offsets_of(admission.admitted) == [10, 11, 12, 0, 1]
    assert admission.redelivered == [] and admission.skipped == {}
    assert gate.next_offset(0) == 13 and gate.next_offset(1) == 2


async def test_without_a_commit_a_partition_starts_at_its_log_start() -> None:
    app = AppStandIn()
    app.consumer.log_start[TP(TOPIC, 1)] = 3
    gate = gate_of(app)
    assert await gate.expected(TP(TOPIC, 1)) == 3
    assert gate.next_offset(2) is None


async def test_re_deliveries_below_the_next_offset_are_dropped() -> None:
    app = AppStandIn()
    app.consumer._committed_offset[TP(TOPIC, 0)] = 5
    gate = gate_of(app)
    assert await admitted(gate, records(0, 5, 6, 7)) == [5, 6, 7]
    again = await admit(gate, records(0, 6, 7, 8))
    assert offsets_of(again.admitted) == [8]
    assert offsets_of(again.redelivered) == [6, 7]  # never folded twice


async def test_offsets_without_records_are_passed_and_counted() -> None:
    app = AppStandIn()
    app.consumer._committed_offset[TP(TOPIC, 0)] = 5
    gate = gate_of(app)
    admission = await admit(gate, records(0, 5, 9, 10))
    assert offsets_of(admission.admitted) == [5, 9, 10]
    assert admission.skipped == {0: 3} and gate.skipped_total == 3
    assert gate.next_offset(0) == 11


async def test_a_partition_batch_is_checked_record_by_record_unless_it_is_contiguous() -> None:
    app = AppStandIn()
    app.consumer._committed_offset[TP(TOPIC, 0)] = 5
    gate = gate_of(app)
    # offsets increase within a partition's records (aiokafka); a gap inside is still seen
    admission = await admit(gate, records(0, 5, 6, 8))
    assert offsets_of(admission.admitted) == [5, 6, 8] and admission.skipped == {0: 1}
    assert gate.next_offset(0) == 9
    again = await admit(gate, records(0, 7, 8, 9, 10))  # starts below the next offset
    assert offsets_of(again.admitted) == [9, 10] and offsets_of(again.redelivered) == [7, 8]
    assert gate.next_offset(0) == 11


async def test_forgotten_partitions_start_again_from_the_committed_offset() -> None:
    app = AppStandIn()
    gate = gate_of(app)
    assert await admitted(gate, records(0, 0, 1, 2)) == [0, 1, 2]
    gate.mark_all_processed()
    gate.forget({0})
    assert gate.processed(0) is None and gate.next_offset(0) is None
    app.consumer._committed_offset[TP(TOPIC, 0)] = 1
    assert await admitted(gate, records(0, 1, 2, 3)) == [1, 2, 3]


async def test_only_offsets_whose_effects_are_acknowledged_become_committable() -> None:
    app = AppStandIn()
    raw0, raw1, other = TP(TOPIC, 0), TP(TOPIC, 1), TP("other", 0)
    app.consumer._committed_offset[raw0] = 4
    app.consumer.assigned = {raw0, raw1, other}
    app.consumer.acked = {other}
    gate = gate_of(app)
    assert await admitted(gate, records(0, 4, 5)) == [4, 5]
    assert gate.processed(0) is None  # folded, not written yet

    install_commit_authority(app.consumer, TOPIC, gate)
    consumer = app.consumer
    assert consumer._new_offset(raw0) is None
    gate.mark_all_processed()
    assert consumer._new_offset(raw0) == 6
    assert consumer._new_offset(raw1) is None  # nothing folded there yet
    assert consumer._new_offset(other) == -1  # Faust's rule
    # every assigned raw partition is considered at a commit, acknowledged by Faust or not
    assert sorted(consumer._filter_tps_with_pending_acks(None)) == sorted([other, raw0, raw1])
    assert list(consumer._filter_tps_with_pending_acks({"other"})) == [other]
    consumer.verify_event_path(0.0, raw0)
    consumer.verify_event_path(0.0, other)
    assert consumer.verified == [other]  # Faust's slow-stream check skips raw partitions
    gate.forget({0})
    assert consumer._new_offset(raw0) is None


async def test_the_handover_keeps_raw_partitions_paused_in_faust_and_ready_after_the_seek() -> None:
    consumer = ConsumerStandIn()
    handover = RawPartitionHandover(TOPIC)
    handover.install(consumer)
    raw0, raw1, changelog = TP(TOPIC, 0), TP(TOPIC, 1), TP("sessions-changelog", 0)

    consumer.resume_partitions({raw0, raw1, changelog})
    assert consumer.resumed == [{changelog}]  # Faust never fetches the raw partitions
    assert handover.ready() == {}  # committed offsets not read yet
    await consumer.perform_seek()
    assert consumer.seeks == 1
    ready = handover.ready()
    assert sorted(ready) == [0, 1] and handover.changed.is_set()
    assert handover.is_current(0, ready[0]) and not handover.is_current(0, ready[0] + 5)

    handover.changed.clear()
    consumer.pause_partitions({raw0, changelog})  # a rebalance starts
    assert consumer.paused == [{raw0, changelog}]
    assert sorted(handover.ready()) == [1] and handover.changed.is_set()
    assert not handover.is_current(0, ready[0])  # records fetched before are stale now

    consumer.resume_partitions({raw0})
    await consumer.perform_seek()
    again = handover.ready()
    assert again[1] == ready[1] and again[0] > max(ready.values())  # a new epoch
