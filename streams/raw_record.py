"""What the worker's fold reads of one raw-topic record (an aiokafka ``ConsumerRecord``).

The raw reader (:mod:`streams.raw_intake`) hands aiokafka's records over as they are: no copy
per record on the hot path. :class:`RawRecord` names the attributes the worker relies on.
"""

from __future__ import annotations

from typing import Protocol

TIMESTAMP_NONE = -1


class RawRecord(Protocol):
    """topic, partition, offset, Kafka timestamp (ms) and its type, key and value bytes."""

    @property
    def topic(self) -> str: ...
    @property
    def partition(self) -> int: ...
    @property
    def offset(self) -> int: ...
    @property
    def timestamp(self) -> int: ...
    @property
    def timestamp_type(self) -> int: ...
    @property
    def key(self) -> bytes | None: ...
    @property
    def value(self) -> bytes | None: ...


def record_timestamp_ms(record: RawRecord) -> int | None:
    """The record's Kafka timestamp in ms, or None when it has none."""
    timestamp = record.timestamp
    if timestamp is None or record.timestamp_type == TIMESTAMP_NONE or timestamp < 0:
        return None
    return timestamp
