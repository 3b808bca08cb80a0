"""Dead-letter writer (SPEC 1): rejected records, byte for byte, with why and where in headers.

Used by the stream (for records of the raw topic) and by ``produce --dlq`` (for lines of a
file). The DLQ record has the original key and the original value bytes, unchanged; its
headers come from :func:`ingest.dlq_headers.dlq_headers`. The record timestamp is the source
record's timestamp when it has one (so the DLQ keeps the original event's time), else the
broker's "now" (``None``).
"""

from __future__ import annotations

from collections.abc import Awaitable

from ingest.accepted_event import Rejection
from ingest.dlq_headers import SourceCoordinates, dlq_headers
from ingest.record_sender import RecordSender


class DLQWriter:
    """Writes rejected records to one DLQ topic through a :class:`RecordSender`."""

    def __init__(self, sender: RecordSender, topic: str) -> None:
        self._sender = sender
        self.topic = topic

    async def send(
        self,
        *,
        key: bytes | None,
        value: bytes,
        rejection: Rejection,
        source: SourceCoordinates,
    ) -> Awaitable[None]:
        """Queue the DLQ record; the returned awaitable completes on the broker's ack."""
        timestamp = source.timestamp_ms
        return await self._sender.send(
            self.topic,
            key=key,
            value=value,
            headers=dlq_headers(rejection, source),
            timestamp_ms=timestamp if timestamp is not None and timestamp >= 0 else None,
        )
