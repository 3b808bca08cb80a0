"""Stop Faust from counting offsets it never delivered as processed, or dropping any.

The worker reads the raw topic with its own consumer (:mod:`streams.raw_intake`); Faust's
consumer still reads the changelog (table restore), and the patch stays for it. Its history:

faust-streaming 0.15.3 (``faust/transport/consumer.py``) records a "gap" whenever a fetched
record's offset is more than one above the partition's read offset, and counts the gap's
offsets as acknowledged at the next commit. That is meant for offsets that hold no record
(transaction markers). Seen in the worker tests, the same happens during a takeover when
records fetched before Faust's seek to the committed offsets arrive after it: the gap's
offsets are then acknowledged twice (once as a gap, once when the record is processed), and
Faust's commit advances by one offset per commit interval from then on. Worse, an offset that
is really skipped would be committed unprocessed.

Without gap filling, an offset is committed only once its record was processed. The raw topic
must then be written without transactions (every producer of this project is idempotent, not
transactional): a transaction marker would hold the partition's committed offset back.

The same loop also *drops* every fetched record whose offset is below the partition's "read
offset", the offset of the last record it handed on. Around a rebalance (and after any seek)
records fetched earlier are still handed on after the seek, which moves the read offset past
the seek target, and the re-fetched records below it are then dropped without a trace: the
end-to-end fault test lost events that way on a worker that kept its partitions. The read
offset is therefore never remembered here: every fetched record reaches the stream.
"""

from __future__ import annotations

from typing import Any


async def _no_gap(self: Any, tp: Any, offset_from: int, offset_to: int) -> None:
    """Replacement of ``Consumer._add_gap``: record nothing."""
    return None


class _NoReadOffsets(dict[Any, Any]):
    """A mapping that never holds anything: every read offset is unknown (None)."""

    def __getitem__(self, key: Any) -> None:
        return None

    def __setitem__(self, key: Any, value: Any) -> None:
        return None

    def update(self, *args: Any, **kwargs: Any) -> None:
        return None


_NO_READ_OFFSETS = _NoReadOffsets()


def _read_offsets(self: Any) -> _NoReadOffsets:
    return _NO_READ_OFFSETS


def _ignore_read_offsets(self: Any, value: Any) -> None:
    return None


def disable_gap_filling() -> None:
    """Patch Faust's consumer class in this process (the worker's own)."""
    from faust.transport.consumer import Consumer

    setattr(Consumer, "_add_gap", _no_gap)  # noqa: B010 (patching a method on purpose)
    setattr(  # noqa: B010
        Consumer, "_read_offset", property(_read_offsets, _ignore_read_offsets)
    )
