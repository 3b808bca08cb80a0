"""Send a JSON Lines file of raw events to the raw topic (what ``sessionizer produce`` does).

Each non-blank line is validated as the offline fold validates it (no key check, arrival time
``received_at`` else ``ts``). A valid line is sent as it is (its bytes without the line
terminator, never re-serialized) with key = ``session_id`` as sent (UTF-8) and record timestamp
= its arrival time (``received_at``, else ``ts``; SPEC 8), so the stream's result equals
``fold`` of the same file. Records are queued in file order; the idempotent producer keeps the
order of the records of one partition, hence of one session, and its retries write nothing
twice. Nothing here ever sends a record a second time: when an acknowledgement fails or does
not come within ``ack_timeout_s``, the import stops and says which lines are surely on the
topic.

Blank lines (ASCII whitespace only) are skipped but counted in line numbers, as ``fold`` does.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter, deque
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import BinaryIO

from ingest.accepted_event import Rejection, RejectReason
from ingest.record_sender import RecordSender
from ingest.validation import validate_record
from sessionizer.errors import SessionizerError, TransientError

READ_CHUNK_BYTES = 1 << 20
YIELD_EVERY_LINES = 256


@dataclass(frozen=True, slots=True)
class RejectedLine:
    """A line that validation refused (1-based ``line_number``)."""

    line_number: int
    value: bytes
    rejection: Rejection


RejectedLineHandler = Callable[[RejectedLine], Awaitable[Awaitable[None] | None]]
"""Called for every rejected line; may return an ack to wait for (e.g. a DLQ write)."""


@dataclass(slots=True)
class ImportProgress:
    """Counts so far; ``total_bytes`` is ``None`` when the size is unknown (a pipe)."""

    lines: int = 0
    bytes_read: int = 0
    total_bytes: int | None = None
    queued: int = 0
    sent: int = 0  # acknowledged by the broker
    rejected: Counter[str] = field(default_factory=Counter)  # reason -> lines
    dlq_sent: int = 0  # rejected lines acknowledged on the DLQ
    started: float = field(default_factory=time.monotonic)

    @property
    def rejected_total(self) -> int:
        return sum(self.rejected.values())

    def describe(self) -> str:
        """One line for humans."""
        reasons = ", ".join(f"{reason} {count}" for reason, count in sorted(self.rejected.items()))
        elapsed = max(time.monotonic() - self.started, 1e-9)
        return (
            f"{self.lines} lines: {self.sent} sent, {self.rejected_total} rejected"
            + (f" ({reasons})" if reasons else "")
            + (f", {self.dlq_sent} to the DLQ" if self.dlq_sent else "")
            + f"; {elapsed:.1f} s, {self.sent / elapsed:,.0f} events/s"
        )


@dataclass(slots=True)
class ImportResult:
    """The final counts and, when the import stopped early, why and where."""

    progress: ImportProgress
    error: SessionizerError | None = None
    # Every line before this one is acknowledged (sent or, with a DLQ, dead-lettered) or
    # rejected; None when the import finished. Lines from it on may be partly on the topic.
    first_unconfirmed_line: int | None = None


ProgressHandler = Callable[[ImportProgress], None]


def line_value(raw: bytes) -> bytes:
    """A line without its terminator (``\\n`` or ``\\r\\n``), as the offline fold reads it."""
    if raw.endswith(b"\n"):
        raw = raw[:-1]
        if raw.endswith(b"\r"):
            raw = raw[:-1]
    return raw


def is_blank(value: bytes) -> bool:
    """Whether a line holds nothing but ASCII whitespace (skipped, as ``fold`` skips it)."""
    return not value.strip()


async def read_lines(stream: BinaryIO, chunk_bytes: int = READ_CHUNK_BYTES) -> AsyncIterator[bytes]:
    """The lines of a binary stream (terminator kept), read in a thread chunk by chunk.

    Reading off the event loop keeps the producer sending while a slow pipe is waited on.
    """
    read = getattr(stream, "read1", stream.read)
    rest = b""
    while True:
        chunk: bytes = await asyncio.to_thread(read, chunk_bytes)
        if not chunk:
            break
        lines = (rest + chunk).split(b"\n")
        rest = lines.pop()
        for line in lines:
            yield line + b"\n"
    if rest:
        yield rest


class _Pending:
    """Acks not yet awaited, oldest first, with the line each belongs to."""

    def __init__(self) -> None:
        self.entries: deque[tuple[int, Awaitable[None], bool]] = deque()

    def add(self, line_number: int, ack: Awaitable[None], *, dlq: bool) -> None:
        self.entries.append((line_number, ack, dlq))

    def __len__(self) -> int:
        return len(self.entries)


async def import_jsonl(
    lines: AsyncIterator[bytes],
    sender: RecordSender,
    topic: str,
    *,
    on_rejected: RejectedLineHandler | None = None,
    on_progress: ProgressHandler | None = None,
    progress_interval_s: float = 1.0,
    total_bytes: int | None = None,
    start_line: int = 1,
    max_pending: int = 20_000,
    ack_timeout_s: float = 60.0,
) -> ImportResult:
    """Validate and send every line of ``lines``; never raises for bad input or Kafka faults.

    ``start_line``: lines before it are read (and counted in line numbers) but neither
    validated nor sent, to continue an import that stopped. ``ack_timeout_s``: how long the
    oldest unacknowledged record may wait before the import gives up (the producer itself
    retries during that time, without duplicates).
    """
    progress = ImportProgress(total_bytes=total_bytes)
    pending = _Pending()
    last_report = time.monotonic()

    loop = asyncio.get_running_loop()

    async def confirm_oldest(count: int) -> None:
        """Wait for the ``count`` oldest acks; fail if none arrives for ``ack_timeout_s``."""
        entries = pending.entries
        async with asyncio.timeout(ack_timeout_s) as deadline:
            for done in range(min(count, len(entries))):
                _, ack, dlq = entries[0]
                await ack
                entries.popleft()
                if dlq:
                    progress.dlq_sent += 1
                else:
                    progress.sent += 1
                if done % 1024 == 1023:
                    deadline.reschedule(loop.time() + ack_timeout_s)

    try:
        async for raw in lines:
            progress.lines += 1
            progress.bytes_read += len(raw)
            number = progress.lines
            if number < start_line:
                continue
            value = line_value(raw)
            if is_blank(value):
                continue
            checked = validate_record(value)
            if not isinstance(checked, Rejection) and checked.arrival_ms < 0:
                checked = Rejection(
                    RejectReason.BAD_TIMESTAMP,
                    "arrival time (received_at, else ts) is before 1970: Kafka cannot hold "
                    "it as a record timestamp",
                    ("received_at", "ts"),
                )
            if isinstance(checked, Rejection):
                progress.rejected[checked.reason.value] += 1
                if on_rejected is not None:
                    ack = await on_rejected(RejectedLine(number, value, checked))
                    if ack is not None:
                        pending.add(number, ack, dlq=True)
            else:
                ack = await sender.send(
                    topic,
                    key=checked.session_id.encode("utf-8"),
                    value=value,
                    timestamp_ms=checked.arrival_ms,
                )
                progress.queued += 1
                pending.add(number, ack, dlq=False)
            if len(pending) >= max_pending:
                await confirm_oldest(max_pending // 2)
            elif number % YIELD_EVERY_LINES == 0:
                await asyncio.sleep(0)  # let the producer's sender task run
            if on_progress is not None and time.monotonic() - last_report >= progress_interval_s:
                last_report = time.monotonic()
                on_progress(progress)
        await confirm_oldest(len(pending))
    except SessionizerError as exc:
        return await _stopped(progress, pending, exc, progress.lines)
    except TimeoutError:
        error = TransientError(
            f"no acknowledgement from Kafka within {ack_timeout_s:g} s (is the broker down?)"
        )
        return await _stopped(progress, pending, error, progress.lines)
    return ImportResult(progress)


async def _stopped(
    progress: ImportProgress, pending: _Pending, error: SessionizerError, current_line: int
) -> ImportResult:
    """Count the acks that did arrive, oldest first; the first missing one is where to resume.

    An ack is looked at only if it says it is complete (a ``done()`` method, as the acks of
    :class:`ingest.kafka_producer.KafkaRecordSender` have); nothing is waited for here.
    """
    entries = pending.entries
    while entries:
        _, ack, dlq = entries[0]
        done = getattr(ack, "done", None)
        if not callable(done) or not done():
            break
        try:
            await ack
        except SessionizerError:
            break
        entries.popleft()
        if dlq:
            progress.dlq_sent += 1
        else:
            progress.sent += 1
    first = entries[0][0] if entries else current_line
    return ImportResult(progress, error, first)
