"""The worker, not Faust, decides which raw-topic offsets are committed.

Faust 0.15.3 computes a partition's commit offset from the offsets its streams acknowledged
(``Consumer._new_offset``), and only for partitions with acknowledgements
(``_filter_tps_with_pending_acks``). The worker reads the raw topic with its own consumer
(:mod:`streams.raw_intake`), so Faust's streams never acknowledge a raw record; and Faust's rule
could not be trusted anyway: with no committed offset (or offset 0, which Faust stores as
"none") it commits from the first acknowledged offset whatever came before, and its check for a
gap right after the committed offset is off by one.

:func:`install_commit_authority` replaces both on the worker's consumer instance: every assigned
raw partition is considered at each commit, and its commit offset is
:meth:`DeliveryGate.processed`, the offset below which every record was admitted in order,
folded, and had its snapshots, DLQ records and session state acknowledged by Kafka. Other topics
keep Faust's rules. Faust's "slow processing" checks (``verify_event_path``) are skipped for raw
partitions: Faust's own fetcher never reads them, which those checks would report as stuck.

:func:`committed_start` tells the gate where the fold starts in a newly assigned partition.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from faust.types import TP

from streams.delivery_gate import DeliveryGate, StartOffset


def install_commit_authority(consumer: Any, raw_topic: str, gate: DeliveryGate) -> None:
    """Make ``gate`` decide the raw topic's commit offsets on this consumer instance."""
    if getattr(consumer, "_sessionizer_commit_authority", None) is gate:
        return
    faust_rule: Callable[[TP], int | None] = consumer._new_offset
    faust_pending: Callable[[Any], Iterator[TP]] = consumer._filter_tps_with_pending_acks
    faust_verify: Callable[[float, TP], None] = consumer.verify_event_path

    def new_offset(tp: TP) -> int | None:
        if tp.topic != raw_topic:
            return faust_rule(tp)
        return gate.processed(tp.partition)

    def tps_to_commit(topics: Any = None) -> Iterator[TP]:
        seen: set[TP] = set()
        for tp in faust_pending(topics):
            seen.add(tp)
            yield tp
        for tp in list(consumer.assignment()):
            if tp.topic != raw_topic or tp in seen:
                continue
            if topics is None or tp in topics or tp.topic in topics:
                yield tp

    def verify_event_path(now: float, tp: TP) -> None:
        if tp.topic != raw_topic:
            faust_verify(now, tp)

    consumer._new_offset = new_offset
    consumer._filter_tps_with_pending_acks = tps_to_commit
    consumer.verify_event_path = verify_event_path
    consumer._sessionizer_commit_authority = gate


def committed_start(app: Any) -> StartOffset:
    """The gate's start offset: the group's committed offset, else the partition's log start."""

    async def start_offset(tp: TP) -> int:
        consumer = app.consumer
        committed: int | None = consumer._committed_offset.get(tp)
        if committed is not None:
            return int(committed)
        # Faust keeps no committed offset when there is none, and also when it is 0
        earliest: dict[TP, int] = dict(await consumer.earliest_offsets(tp))
        return int(earliest.get(tp, 0) or 0)

    return start_offset
