"""Admit raw records to the fold only in offset order, from where the fold must go on.

The worker reads the raw topic with its own consumer (:mod:`streams.raw_intake`), which is
sought to :meth:`DeliveryGate.expected` whenever a partition is handed to it, so records come
in offset order. The gate still checks every record, because losing or doubling one is what
the whole design must rule out (SPEC 7.1):

* a record below the next expected offset is a re-delivery of one already admitted in this
  assignment: it is dropped, so nothing is folded or dead-lettered twice;
* a record above it means the offsets between hold no record any more (deleted by retention
  while the partition was behind, or a transaction marker): it is admitted, the skipped
  offsets are logged and counted.

The gate also keeps, per partition, the offset below which every admitted record's effects
(snapshots, DLQ records, session state) are acknowledged by Kafka: :meth:`processed`, the only
offset the worker lets Faust commit (:mod:`streams.offset_authority`).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from faust.types import TP

from streams.raw_record import RawRecord

log = logging.getLogger(__name__)

StartOffset = Callable[[TP], Awaitable[int]]
"""Where the fold starts in a newly handed partition (the committed offset, else log start)."""


@dataclass(slots=True)
class Admission:
    """A batch split into the records to fold and the re-deliveries dropped."""

    admitted: list[RawRecord] = field(default_factory=list)
    redelivered: list[RawRecord] = field(default_factory=list)
    skipped: dict[int, int] = field(default_factory=dict)  # partition -> offsets without record


class DeliveryGate:
    """See the module docstring. ``forget`` on revocation; ``admit`` at the start of a batch."""

    def __init__(self, start_offset: StartOffset) -> None:
        self._start_offset = start_offset
        self._next: dict[int, int] = {}  # raw partition -> next offset the fold must see
        self._processed: dict[int, int] = {}  # raw partition -> every offset below is done
        self.skipped_total = 0

    def forget(self, partitions: Iterable[int]) -> None:
        for partition in partitions:
            self._next.pop(partition, None)
            self._processed.pop(partition, None)

    async def expected(self, tp: TP) -> int:
        """The next offset the fold must see in ``tp`` (found on first use)."""
        expected = self._next.get(tp.partition)
        if expected is None:
            expected = await self._start_offset(tp)
            self._next[tp.partition] = expected
        return expected

    def next_offset(self, partition: int) -> int | None:
        """The next offset the fold must see in ``partition``, once known."""
        return self._next.get(partition)

    def processed(self, partition: int) -> int | None:
        """The offset below which every record of ``partition`` is folded and acknowledged."""
        return self._processed.get(partition)

    def mark_all_processed(self) -> None:
        """Every admitted record's effects are acknowledged: their offsets may be committed."""
        for partition, done in self._next.items():
            if done > self._processed.get(partition, -1):
                self._processed[partition] = done

    async def admit(self, batches: Mapping[int, Sequence[RawRecord]]) -> Admission:
        """Split ``batches`` (partition -> its records in offset order)."""
        result = Admission()
        for partition, records in batches.items():
            if not records:
                continue
            expected = self._next.get(partition)
            if expected is None:
                expected = await self.expected(TP(records[0].topic, partition))
            first, last = records[0].offset, records[-1].offset
            # offsets increase within a partition's records (aiokafka drops any below its
            # position), so this span means contiguous from the expected offset: the usual case
            if first == expected and last - first == len(records) - 1:
                result.admitted.extend(records)
                self._next[partition] = last + 1
            else:
                await self._admit_one_by_one(records, result)
        return result

    async def _admit_one_by_one(self, records: Sequence[RawRecord], result: Admission) -> None:
        next_offsets = self._next
        for record in records:
            partition, offset = record.partition, record.offset
            expected = next_offsets.get(partition)
            if expected is None:
                expected = await self.expected(TP(record.topic, partition))
            if offset < expected:
                result.redelivered.append(record)
                continue
            if offset > expected:
                result.skipped[partition] = result.skipped.get(partition, 0) + offset - expected
                log.warning(
                    "raw %s[%d]: offsets %d..%d hold no record (deleted by retention, or "
                    "transaction markers); going on from %d",
                    record.topic,
                    partition,
                    expected,
                    offset - 1,
                    offset,
                )
                self.skipped_total += offset - expected
            next_offsets[partition] = offset + 1
            result.admitted.append(record)
