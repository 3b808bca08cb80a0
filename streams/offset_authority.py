"""The worker decides which raw-topic offsets are committed, and un-sticks stalled partitions.

Faust 0.15.3 computes a partition's commit offset from the offsets its streams acknowledged
(``Consumer._new_offset``). That cannot be trusted here: with no committed offset (or offset 0,
which Faust stores as "none") it commits from the first acknowledged offset whatever came before,
and its check for a gap right after the committed offset is off by one (a run of acknowledged
offsets starting one above the committed offset is committed over the missing record). Both pass
records the fold never saw, which a crash then loses for good (SPEC 7.1).

:func:`install_commit_authority` replaces that method on the worker's consumer: for the raw
topic, the commit offset is :meth:`DeliveryGate.processed`, the offset below which every record
was admitted in order, folded, and had its snapshots, DLQ records and session state
acknowledged by Kafka. Other topics keep Faust's rule (the worker acknowledges no other topic).

:class:`StallWatchdog` covers records the consumer fetched but that never reached the fold
(dropped by Faust as stale around a rebalance, or held back by the gate): when a partition's
fetch position is past the next offset the fold needs and no record of it arrived for a while,
it seeks back. A needless seek only causes re-deliveries, which the fold skips.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from time import monotonic
from typing import Any

from faust.types import TP

from streams.delivery_gate import DeliveryGate

log = logging.getLogger(__name__)

STALL_AFTER_S = 3.0


def install_commit_authority(consumer: Any, raw_topic: str, gate: DeliveryGate) -> None:
    """Make ``gate`` decide the raw topic's commit offsets on this consumer instance."""
    if getattr(consumer, "_sessionizer_commit_authority", None) is gate:
        return
    faust_rule: Callable[[TP], int | None] = consumer._new_offset

    def new_offset(tp: TP) -> int | None:
        if tp.topic != raw_topic:
            return faust_rule(tp)
        done = gate.processed(tp.partition)
        acked: list[int] | None = consumer._acked.get(tp)
        if acked and done is not None:  # forget acknowledgements the commit covers
            kept = [offset for offset in acked if offset >= done]
            if len(kept) != len(acked):
                acked[:] = kept
                consumer._acked_index[tp].intersection_update(kept)
        return done

    consumer._new_offset = new_offset
    consumer._sessionizer_commit_authority = gate


class StallWatchdog:
    """Seeks back raw partitions whose fetched records never reached the fold (a timer)."""

    def __init__(
        self, app: Any, raw_topic: str, gate: DeliveryGate, *, stall_after_s: float = STALL_AFTER_S
    ) -> None:
        self._app = app
        self._topic = raw_topic
        self._gate = gate
        self._stall_after_s = stall_after_s
        self.seeks = 0

    async def check(self) -> dict[TP, int]:
        """Seek every stalled partition back to the next offset the fold needs; returns them."""
        app = self._app
        if not app.flow_control.is_active():
            return {}
        consumer = app.consumer
        paused = set(consumer._paused_partitions)
        now = monotonic()
        seeks: dict[TP, int] = {}
        positions: dict[TP, int] = {}
        for tp in consumer.assignment():
            if tp.topic != self._topic or tp in paused:
                continue
            if self._gate.idle_for(tp.partition, now) < self._stall_after_s:
                continue
            position = await consumer.position(tp)
            expected = await self._gate.expected(tp)
            if position is None or position <= expected:
                continue
            if self._gate.should_seek(tp.partition, expected):
                seeks[tp], positions[tp] = expected, position
        if seeks:
            for tp, offset in sorted(seeks.items()):
                log.warning(
                    "raw %s[%d]: fetched up to %d but the fold needs offset %d and no record "
                    "came for %.0f s: seeking back to %d",
                    tp.topic,
                    tp.partition,
                    positions[tp],
                    offset,
                    self._stall_after_s,
                    offset,
                )
            self.seeks += len(seeks)
            await consumer.seek_wait(seeks)
        return seeks
