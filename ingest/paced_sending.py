"""Send records to one topic through a :class:`RecordSender`, at most at a given rate.

Acknowledgements are awaited in windows, so that many records are in flight at once but a
failed acknowledgement stops the run soon (the error propagates). The rate, when given, is kept
over the whole run (records sent / seconds since the start), not per window.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterable

from ingest.record_sender import RecordSender

OutgoingRecord = tuple[bytes | None, bytes, int | None]
"""``(key, value, timestamp_ms)`` of one record to send."""

ACK_WINDOW = 5000
"""Records queued before their acknowledgements are awaited."""


async def send_paced(
    sender: RecordSender,
    topic: str,
    records: Iterable[OutgoingRecord],
    *,
    rate: float | None = None,
    on_progress: Callable[[int], None] | None = None,
    progress_every_s: float = 5.0,
) -> int:
    """Send every record, at most ``rate`` per second (``None``: as fast as acks allow).

    Returns how many records were acknowledged. ``on_progress(sent)`` is called about every
    ``progress_every_s`` seconds.
    """
    started = time.monotonic()
    next_progress = started + progress_every_s
    pending: list[Awaitable[None]] = []
    sent = 0
    for key, value, timestamp_ms in records:
        pending.append(await sender.send(topic, key=key, value=value, timestamp_ms=timestamp_ms))
        sent += 1
        if len(pending) >= ACK_WINDOW:
            await asyncio.gather(*pending)
            pending.clear()
        if rate is not None:
            ahead = started + sent / rate - time.monotonic()
            if ahead > 0:
                await asyncio.sleep(ahead)
        if on_progress is not None and sent % 1000 == 0 and time.monotonic() >= next_progress:
            on_progress(sent)
            next_progress = time.monotonic() + progress_every_s
    await asyncio.gather(*pending)
    return sent
