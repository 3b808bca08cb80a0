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
current consumer generation, and its offset is not above that next offset. Any other event is
held back: it is not folded and not acknowledged (so no commit can pass it), and when the
partition has a gap, the consumer is sought back to the missing offset so Kafka delivers it
again. Events at or below the next offset are re-deliveries; the fold's stored offset makes them
no-ops.
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
MAX_SEEKS = 10  # then the offsets are taken as gone (e.g. deleted by retention): go on


@dataclass(slots=True)
class Admission:
    """A batch split into the events to fold and the events held back (not acknowledged)."""

    admitted: list[Any] = field(default_factory=list)
    held: list[Any] = field(default_factory=list)
    seeks: dict[TP, int] = field(default_factory=dict)


class DeliveryGate:
    """See the module docstring. ``forget`` on revocation; ``admit`` at the start of a batch."""

    def __init__(self, app: Any) -> None:
        self._app = app
        self._next: dict[int, int] = {}  # raw partition -> next offset the fold must see
        self._last_seek: dict[int, tuple[int, float, int]] = {}  # offset, when, how many
        self.held_total = 0

    def forget(self, partitions: set[int]) -> None:
        for partition in partitions:
            self._next.pop(partition, None)
            self._last_seek.pop(partition, None)

    def _start_offset(self, tp: TP, first_offset: int) -> int:
        committed: int | None = self._app.consumer._committed_offset.get(tp)
        if committed is None:  # no commit yet (or offset 0): nothing to compare with
            return first_offset
        return int(committed)

    def admit(self, events: Sequence[Any]) -> Admission:
        app = self._app
        result = Admission()
        flow_active = app.flow_control.is_active()
        generation = app.consumer_generation_id
        gapped: set[int] = set()
        for event in events:
            message = event.message
            partition, offset = message.partition, message.offset
            if not flow_active or message.generation_id != generation or partition in gapped:
                result.held.append(event)
                continue
            expected = self._next.get(partition)
            if expected is None:
                expected = self._start_offset(message.tp, offset)
            if offset > expected and self._given_up(partition, expected):
                log.error(
                    "raw %s[%d]: offsets %d..%d never arrived after %d seeks; going on from %d",
                    message.topic,
                    partition,
                    expected,
                    offset - 1,
                    MAX_SEEKS,
                    offset,
                )
                expected = offset
            if offset > expected:
                gapped.add(partition)
                result.held.append(event)
                if self._should_seek(partition, expected):
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
            self._next[partition] = max(expected, offset + 1)
            result.admitted.append(event)
        return result

    def _given_up(self, partition: int, offset: int) -> bool:
        last = self._last_seek.get(partition)
        return last is not None and last[0] == offset and last[2] >= MAX_SEEKS

    def _should_seek(self, partition: int, offset: int) -> bool:
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
        for event in admission.held:
            message = event.message
            message.acked = True  # Faust's Message.ack then records nothing for it
            unacked.discard(message)
        self.held_total += len(admission.held)
        if admission.seeks:
            await self._app.consumer.seek_wait(admission.seeks)
