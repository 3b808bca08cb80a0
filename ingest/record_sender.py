"""The small transport interface every Kafka writer of sessionizer goes through.

A :class:`RecordSender` sends one record and returns once the broker has it (acks=all).
The HTTP collector, ``produce``, the DLQ writer and the worker only depend on this protocol;
the aiokafka implementation lives in :mod:`ingest.kafka_producer` and the worker may supply
one backed by Faust's producer.
"""

from __future__ import annotations

from collections.abc import Sequence
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
    ) -> None:
        """Send one record and wait until it is acknowledged by the broker."""
        ...
