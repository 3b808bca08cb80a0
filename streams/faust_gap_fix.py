"""Stop Faust from counting raw-topic offsets it never delivered as processed.

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
"""

from __future__ import annotations

from typing import Any


async def _no_gap(self: Any, tp: Any, offset_from: int, offset_to: int) -> None:
    """Replacement of ``Consumer._add_gap``: record nothing."""
    return None


def disable_gap_filling() -> None:
    """Patch Faust's consumer class in this process (the worker's own)."""
    from faust.transport.consumer import Consumer

    setattr(Consumer, "_add_gap", _no_gap)  # noqa: B010 (patching a method on purpose)
