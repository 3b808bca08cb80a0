"""Admit a micro-batch's raw records only in offset order, from the committed offset on.

faust-streaming 0.15.3 can deliver, after a rebalance that leaves a partition with the same
worker, records fetched before the rebalance (from ``take_events``' own buffer, or from a fetch
that returns after Faust's seek to the committed offset). Its consumer then remembers the
stale record's offset as the partition's read offset and silently drops the re-fetched records
below it (``Consumer._drain_messages``: "DROPPED MESSAGE"). The records between the committed
offset and the stale one were cleared from the stream queues at the revocation and are never
processed in this generation. Later events of their sessions then start a new, empty state, and
when the skipped records are read again (after the next rebalance), the stored offset says they
were applied, so they are lost for good (SPEC 7.1). Seen in the end-to-end fault test.

The gate keeps, for every assigned raw partition, the next offset the fold must see. An event
is admitted only if the app's flow is active (no rebalance in progress), it was fetched in the
current consumer generation, and its offset equals that next offset. A later event is held
back: it is not folded and not acknowledged (so no commit can pass it), and the consumer is
sought back to the missing offset so Kafka delivers it again. An earlier one is a re-delivery
of a record already admitted in this assignment (after such a seek): it is dropped, so a seek
never folds or dead-letters a record twice. (After a rebalance everything starts again from the
committed offset; the fold's stored offsets make records folded before the crash no-ops.)
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from time import monotonic
from typing import Any

from faust.types import TP

log = logging.getLogger(__name__)

RESEEK_AFTER_S = 1.0
MAX_SEEKS = 10  # then ask whether the offsets were deleted (retention): if so, go on


@dataclass(slots=True)
class Admission:
    """A batch split into the events to fold and the events held back (not acknowledged)."""

    admitted: list[Any] = field(default_factory=list)
    held: list[Any] = field(default_factory=list)
    redelivered: list[Any] = field(default_factory=list)  # below the next offset: dropped
    seeks: dict[TP, int] = field(default_factory=dict)


class DeliveryGate:
    """See the module docstring. ``forget`` on revocation; ``admit`` at the start of a batch."""

    def __init__(self, app: Any) -> None:
        self._app = app
        self._next: dict[int, int] = {}  # raw partition -> next offset the fold must see
        self._last_seek: dict[int, tuple[int, float, int]] = {}  # offset, when, how many
        self._processed: dict[int, int] = {}  # raw partition -> every offset below is folded
        self._last_arrival: dict[int, float] = {}  # raw partition -> when a record last came
        self.held_total = 0

    def forget(self, partitions: set[int]) -> None:
        for partition in partitions:
            self._next.pop(partition, None)
            self._last_seek.pop(partition, None)
            self._processed.pop(partition, None)
            self._last_arrival.pop(partition, None)

    async def start_offset(self, tp: TP) -> int:
        """Where the fold starts in ``tp``: the committed offset, else the log start."""
        consumer = self._app.consumer
        committed: int | None = consumer._committed_offset.get(tp)
        if committed is not None:
            return int(committed)
        # Faust keeps no committed offset when there is none, and also when it is 0
        earliest: dict[TP, int] = dict(await consumer.earliest_offsets(tp))
        return int(earliest.get(tp, 0) or 0)

    async def expected(self, tp: TP) -> int:
        """The next offset the fold must see in ``tp`` (found on first use)."""
        expected = self._next.get(tp.partition)
        if expected is None:
            expected = await self.start_offset(tp)
            self._next[tp.partition] = expected
        return expected

    def next_offset(self, partition: int) -> int | None:
        """The next offset the fold must see in ``partition``, once known."""
        return self._next.get(partition)

    def processed(self, partition: int) -> int | None:
        """The offset below which every record of ``partition`` is folded and acknowledged."""
        return self._processed.get(partition)

    def idle_for(self, partition: int, now: float) -> float:
        """Seconds since a record of ``partition`` last reached the gate (or it was first asked)."""
        last = self._last_arrival.get(partition)
        if last is None:  # watched from now on
            self._last_arrival[partition] = now
            return 0.0
        return now - last

    def mark_all_processed(self) -> None:
        """Every admitted event's effects are acknowledged: their offsets may be committed."""
        for partition, done in self._next.items():
            if done > self._processed.get(partition, -1):
                self._processed[partition] = done

    async def admit(self, events: Sequence[Any]) -> Admission:
        app = self._app
        result = Admission()
        flow_active = app.flow_control.is_active()
        generation = app.consumer_generation_id
        gapped: set[int] = set()
        now = monotonic()
        for event in events:
            message = event.message
            partition, offset = message.partition, message.offset
            self._last_arrival[partition] = now
            if not flow_active or message.generation_id != generation or partition in gapped:
                result.held.append(event)
                continue
            expected = await self.expected(message.tp)
            if offset > expected:
                expected = await self._skip_deleted(message.tp, expected)
            if offset > expected:
                gapped.add(partition)
                result.held.append(event)
                if self.should_seek(partition, expected):
                    result.seeks[message.tp] = expected
                    log.warning(
                        "raw %s[%d]: got offset %d, expected %d: records were skipped by the "
                        "consumer; holding the batch's later records back and seeking to %d",
                        message.topic,
                        partition,
                        offset,
                        expected,
                        expected,
                    )
                self._next[partition] = expected
                continue
            if offset < expected:  # already admitted in this assignment: folded, or being
                result.redelivered.append(event)
                continue
            self._next[partition] = offset + 1
            result.admitted.append(event)
        return result

    async def _skip_deleted(self, tp: TP, expected: int) -> int:
        """After many vain seeks, go on from the log start if ``expected`` was deleted."""
        last = self._last_seek.get(tp.partition)
        if last is None or last[0] != expected or last[2] < MAX_SEEKS:
            return expected
        earliest: dict[TP, int] = dict(await self._app.consumer.earliest_offsets(tp))
        start = int(earliest.get(tp, 0) or 0)
        if start <= expected:
            return expected  # the records exist: keep seeking
        log.error(
            "raw %s[%d]: offsets %d..%d were deleted from the log (retention) before the fold "
            "saw them; going on from %d",
            tp.topic,
            tp.partition,
            expected,
            start - 1,
            start,
        )
        self._last_seek.pop(tp.partition, None)
        self._next[tp.partition] = start
        return start

    def should_seek(self, partition: int, offset: int) -> bool:
        """Whether to seek ``partition`` back to ``offset`` now (at most once a second)."""
        now = monotonic()
        last = self._last_seek.get(partition)
        count = 1
        if last is not None and last[0] == offset:
            if now - last[1] < RESEEK_AFTER_S:
                return False
            count = last[2] + 1
        self._last_seek[partition] = (offset, now, count)
        return True

    async def release(self, admission: Admission) -> None:
        """Make held events unackable (``take_events`` acks every event) and do the seeks."""
        unacked = self._app.consumer._unacked_messages
        for event in (*admission.held, *admission.redelivered):
            message = event.message
            message.acked = True  # Faust's Message.ack then records nothing for it
            unacked.discard(message)
        self.held_total += len(admission.held)
        if admission.seeks:
            await self._app.consumer.seek_wait(admission.seeks)
