"""One raw-topic record as the worker's fold sees it (read in bulk, not through Faust).

``message`` returns the record itself: Faust's table and RocksDB store read
``current_event().message.partition`` to choose a key's partition, and the session table makes
a raw record the current event for its reads and writes (:func:`streams.session_table.acting_for`).
"""

from __future__ import annotations

from typing import Any

TIMESTAMP_NONE = -1


class RawRecord:
    """topic, partition, offset, Kafka timestamp (ms or None), key and value bytes."""

    __slots__ = ("__weakref__", "key", "offset", "partition", "timestamp_ms", "topic", "value")

    def __init__(
        self,
        topic: str,
        partition: int,
        offset: int,
        timestamp_ms: int | None,
        key: bytes | None,
        value: bytes | None,
    ) -> None:
        self.topic = topic
        self.partition = partition
        self.offset = offset
        self.timestamp_ms = timestamp_ms
        self.key = key
        self.value = value

    @property
    def message(self) -> RawRecord:
        """This record (what Faust reads from its current event)."""
        return self

    def __repr__(self) -> str:
        return f"RawRecord({self.topic}[{self.partition}]@{self.offset})"


def from_consumer_record(record: Any) -> RawRecord:
    """A :class:`RawRecord` of an aiokafka ``ConsumerRecord``."""
    timestamp: int | None = record.timestamp
    if timestamp is None or record.timestamp_type == TIMESTAMP_NONE or timestamp < 0:
        timestamp = None
    return RawRecord(
        record.topic, record.partition, record.offset, timestamp, record.key, record.value
    )
