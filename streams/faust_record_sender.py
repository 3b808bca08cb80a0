"""A :class:`ingest.record_sender.RecordSender` over the producer of a Faust app.

The worker sends snapshots and DLQ records through Faust's own producer (one connection, and
Faust's commit flushes it), straight to aiokafka: not through ``Topic.send``, which would hold
records sent while a stream event is current until the next offset commit.
"""

from __future__ import annotations

from collections.abc import Awaitable, Sequence
from typing import Any

from ingest.record_sender import Header


class FaustRecordSender:
    """Sends records with ``app.producer``; ``send`` returns the broker-ack awaitable."""

    def __init__(self, app: Any) -> None:
        self._app = app

    async def send(
        self,
        topic: str,
        *,
        key: bytes | None,
        value: bytes | None,
        headers: Sequence[Header] = (),
        timestamp_ms: int | None = None,
    ) -> Awaitable[Any]:
        """Queue one record; the returned awaitable completes on the broker's ack."""
        ack: Awaitable[Any] = await self._app.producer.send(
            topic,
            key,
            value,
            None,
            # Faust truncates seconds * 1000 to int: half a millisecond more keeps it exact.
            None if timestamp_ms is None else (timestamp_ms + 0.5) / 1000.0,
            list(headers) if headers else None,
        )
        return ack
