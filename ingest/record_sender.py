"""The small transport interface every Kafka writer of sessionizer goes through.

``await sender.send(...)`` queues one record (waiting only while the send buffer is full)
and returns an awaitable that completes when the broker has acknowledged it (acks=all), so
a caller can queue many records and then wait for all of their acks.
The HTTP collector, ``produce``, the DLQ writer and the worker only depend on this protocol;
the aiokafka implementation lives in :mod:`ingest.kafka_producer` and the worker may supply
one backed by Faust's producer.
"""

from __future__ import annotations

from collections.abc import Awaitable, Sequence
from typing import Protocol

Header = tuple[str, bytes]


class RecordSender(Protocol):
    """Sends records to Kafka topics."""

    async def send(
        self,
        topic: str,
        *,
        key: bytes | None,
        value: bytes,
        headers: Sequence[Header] = (),
        timestamp_ms: int | None = None,
    ) -> Awaitable[None]:
        """Queue one record; the returned awaitable completes on the broker's ack."""
        ...
