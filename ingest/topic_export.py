"""Export the raw topic as JSON Lines that `fold` turns into what the stream computed.

:func:`export_line` is the pure rule for one record; :func:`read_topic` reads a topic with a
consumer of no group (every partition assigned, nothing committed) from its start, or from a
time, up to the end offsets taken when it starts, partition 0 first, then 1, and so on. One
session's events are all in one partition, so each session keeps its log order.

The export is faithful to what the stream saw:

- A value that is a JSON object without ``received_at`` (or with ``received_at: null``) gets
  ``"received_at"`` = the record timestamp, appended as the object's last member (the bytes
  before it are kept): the stream used the record timestamp as arrival time, and a file has none.
- A value the stream rejected for ``key_mismatch`` is left out (a file has no keys, so `fold`
  would accept it): counted, not written.
- Every other value is written as it is, valid or not, so that `fold` rejects exactly what the
  stream sent to the DLQ, for the same reason. Raw line breaks between JSON tokens become
  spaces (JSON Lines needs one line per value); a value that cannot be one line without
  changing its meaning (an empty value; a line break in a value that is not JSON) is left out
  and counted.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

from aiokafka import AIOKafkaConsumer
from aiokafka.errors import KafkaError
from aiokafka.structs import TopicPartition

from ingest.accepted_event import Rejection, RejectReason
from ingest.json_decoding import BadJson, decode_json_object
from ingest.validation import MAX_VALUE_BYTES, validate_record
from sessionizer.errors import ConfigError, SessionizerError, TransientError
from sessionizer.settings import Settings
from streams.snapshot import format_ms

log = logging.getLogger(__name__)

WRITTEN = "written"
FILLED = "received_at_filled"
SKIPPED_KEY_MISMATCH = "skipped_key_mismatch"
SKIPPED_EMPTY = "skipped_empty"
SKIPPED_MULTILINE = "skipped_multiline_not_json"
NOT_FILLED_TOO_LARGE = "received_at_not_filled_too_large"


@dataclass(slots=True)
class ExportSummary:
    """What an export read and wrote. ``outcomes`` counts records by outcome."""

    records: int = 0
    written: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)
    partitions: dict[int, int] = field(default_factory=dict)  # partition -> records read

    def count(self, outcome: str) -> None:
        self.outcomes[outcome] = self.outcomes.get(outcome, 0) + 1

    def describe(self) -> str:
        details = ", ".join(
            f"{name} {n}" for name, n in sorted(self.outcomes.items()) if name != WRITTEN
        )
        return f"{self.records} records read, {self.written} lines written" + (
            f" ({details})" if details else ""
        )


def _one_line(value: bytes) -> bytes:
    return value.replace(b"\r", b" ").replace(b"\n", b" ")


def export_line(
    value: bytes | None, key: bytes | None, timestamp_ms: int
) -> tuple[bytes | None, list[str]]:
    """The line (no terminator) to write for one record, or ``None``; and its outcomes."""
    if value is None or not value.strip():
        return None, [SKIPPED_EMPTY]
    checked = validate_record(value, key=key, check_key=True, record_timestamp_ms=timestamp_ms)
    if isinstance(checked, Rejection):
        if checked.reason is RejectReason.KEY_MISMATCH:
            return None, [SKIPPED_KEY_MISMATCH]
        if checked.reason in (RejectReason.TOO_LARGE, RejectReason.BAD_JSON):
            if b"\n" in value or b"\r" in value:
                if checked.reason is RejectReason.BAD_JSON:
                    return None, [SKIPPED_MULTILINE]
                return _one_line(value), [WRITTEN]
            return value, [WRITTEN]
    line = _one_line(value) if b"\n" in value or b"\r" in value else value
    try:
        document: dict[str, Any] = decode_json_object(line)
    except BadJson:  # cannot happen after validation parsed it; keep the value as it is
        return line, [WRITTEN]
    if document.get("received_at") is not None:
        return line, [WRITTEN]
    stripped = line.rstrip(b" \t")
    member = b'"received_at":"' + format_ms(timestamp_ms).encode("ascii") + b'"'
    filled = stripped[:-1] + (b"," if document else b"") + member + b"}"
    if len(filled) > MAX_VALUE_BYTES >= len(line):
        return line, [WRITTEN, NOT_FILLED_TOO_LARGE]
    return filled, [WRITTEN, FILLED]


@dataclass(frozen=True, slots=True)
class TopicRecord:
    """What the export needs of one consumed record."""

    partition: int
    offset: int
    timestamp_ms: int
    key: bytes | None
    value: bytes | None


async def _partitions(consumer: AIOKafkaConsumer, topic: str) -> list[TopicPartition]:
    # ``consumer.partitions_for_topic`` knows only subscribed topics; a consumer that assigns
    # partitions itself asks the cluster (the client is aiokafka's, as the producer's probe).
    metadata = await consumer._client.fetch_all_metadata()
    partitions = metadata.partitions_for_topic(topic)
    if not partitions:
        raise ConfigError(f"topic {topic} does not exist")
    return [TopicPartition(topic, p) for p in sorted(partitions)]


async def _start_offsets(
    consumer: AIOKafkaConsumer,
    partitions: list[TopicPartition],
    end: dict[TopicPartition, int],
    since_ms: int | None,
) -> dict[TopicPartition, int]:
    if since_ms is None:
        return dict(await consumer.beginning_offsets(partitions))
    found = await consumer.offsets_for_times({tp: since_ms for tp in partitions})
    return {tp: end[tp] if found[tp] is None else found[tp].offset for tp in partitions}


async def read_topic(
    settings: Settings,
    topic: str,
    *,
    since_ms: int | None = None,
    until_ms: int | None = None,
    stall_timeout_s: float = 30.0,
) -> AsyncIterator[TopicRecord]:
    """Records of ``topic`` with ``since_ms <= timestamp < until_ms``, partition by partition.

    Reads up to the end offsets taken at the start (later records are not read). Raises
    :class:`TransientError` when Kafka cannot be reached or no record arrives for
    ``stall_timeout_s`` while some are expected, :class:`ConfigError` for a missing topic.
    """
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap_servers,
        client_id="sessionizer-export",
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )
    try:
        await consumer.start()
    except (KafkaError, OSError) as exc:
        with contextlib.suppress(Exception):
            await consumer.stop()
        raise TransientError(
            f"Kafka is unreachable at {settings.kafka_bootstrap_servers}: {exc}"
        ) from exc
    try:
        partitions = await _partitions(consumer, topic)
        consumer.assign(partitions)
        end = dict(await consumer.end_offsets(partitions))
        start = await _start_offsets(consumer, partitions, end, since_ms)
        for tp in partitions:
            if start[tp] >= end[tp]:
                continue
            consumer.assign([tp])
            consumer.seek(tp, start[tp])
            position = start[tp]
            last_progress = time.monotonic()
            while position < end[tp]:
                batch = await consumer.getmany(tp, timeout_ms=1000, max_records=5000)
                for message in batch.get(tp, []):
                    if message.offset >= end[tp]:
                        break
                    timestamp = message.timestamp
                    if (since_ms is None or timestamp >= since_ms) and (
                        until_ms is None or timestamp < until_ms
                    ):
                        yield TopicRecord(
                            tp.partition, message.offset, timestamp, message.key, message.value
                        )
                position = await consumer.position(tp)
                if batch.get(tp):
                    last_progress = time.monotonic()
                elif time.monotonic() - last_progress > stall_timeout_s:
                    raise TransientError(
                        f"no record from {topic}[{tp.partition}] at offset {position} for "
                        f"{stall_timeout_s:.0f} s (end offset {end[tp]})"
                    )
    except SessionizerError:
        raise
    except KafkaError as exc:
        raise TransientError(f"reading {topic} failed: {exc}") from exc
    finally:
        await consumer.stop()


LineWriter = Callable[[bytes], Any]


async def export_topic(
    settings: Settings,
    topic: str,
    write: LineWriter,
    *,
    since_ms: int | None = None,
    until_ms: int | None = None,
    on_progress: Callable[[ExportSummary], None] | None = None,
    progress_every_s: float = 5.0,
) -> ExportSummary:
    """Write every exported line (with ``\\n``) through ``write``; returns the counts."""
    summary = ExportSummary()
    next_progress = time.monotonic() + progress_every_s
    async for record in read_topic(settings, topic, since_ms=since_ms, until_ms=until_ms):
        summary.records += 1
        summary.partitions[record.partition] = summary.partitions.get(record.partition, 0) + 1
        line, outcomes = export_line(record.value, record.key, record.timestamp_ms)
        for outcome in outcomes:
            summary.count(outcome)
        if line is not None:
            write(line + b"\n")
            summary.written += 1
        if on_progress is not None and summary.records % 1000 == 0:
            now = time.monotonic()
            if now >= next_progress:
                next_progress = now + progress_every_s
                on_progress(summary)
        if summary.records % 10_000 == 0:
            await asyncio.sleep(0)
    return summary
