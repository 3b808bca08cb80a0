"""`sessionizer produce FILE|-`: send a raw-event JSON Lines file to the raw topic (SPEC 8)."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Awaitable
from typing import BinaryIO

from ingest.dlq_headers import SourceCoordinates
from ingest.dlq_writer import DLQWriter
from ingest.jsonl_import import ImportProgress, ImportResult, RejectedLine, import_jsonl, read_lines
from ingest.kafka_producer import KafkaRecordSender
from ingest.kafka_topics import ensure_topics
from sessionizer.errors import PermanentError, SessionizerError
from sessionizer.settings import Settings

DESCRIPTION = """\
Send raw events from a JSON Lines file (or stdin) to the raw topic, so that the stream's result
equals `sessionizer fold` of the same file.

Each non-blank line is validated as the stream validates it. A valid line is sent unchanged
(its bytes), keyed by its session_id, with the record timestamp set to its received_at, else
its ts; lines are sent in file order, so every session's events keep their order. The producer
waits for every record to be acknowledged by all in-sync replicas (acks=all) and is idempotent:
its retries after a lost connection write nothing twice, and produce never re-sends a record.

A rejected line is reported on stderr as "line N: <reason>: <message>" (blank lines are skipped
but counted in line numbers); with --dlq it goes to the DLQ topic instead, unchanged, with the
error and "file:<FILE>" / line number in its headers. Missing topics are created with
SESSIONIZER_TOPIC_PARTITIONS partitions; an existing topic with another count is an error.
Progress is shown on long runs; a summary (sent, rejected per reason) ends stderr.

Exit status: 0 when the whole input was read and at least one event was sent; 1 when nothing
could be sent (no valid line, Kafka unreachable) or Kafka failed part way (the message tells
the line from which to continue with --start-line); 2 for bad arguments."""


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "produce",
        help="send a raw-event JSON Lines file to the raw topic",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("input", metavar="FILE", help="raw events as JSON Lines; '-' for stdin")
    parser.add_argument(
        "--topic", metavar="NAME", help="target topic (default: SESSIONIZER_RAW_TOPIC)"
    )
    parser.add_argument(
        "--dlq",
        action="store_true",
        help="send rejected lines to the DLQ topic (SESSIONIZER_DLQ_TOPIC) instead of "
        "listing them on stderr",
    )
    parser.add_argument(
        "--start-line",
        type=int,
        default=1,
        metavar="N",
        help="skip the lines before line N (to continue a produce that stopped)",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=60.0,
        metavar="S",
        help="give up when Kafka cannot be reached, or acknowledges nothing, for S seconds "
        "(default 60)",
    )
    parser.add_argument(
        "--progress",
        action="store_true",
        help="report progress every second (on by default when stderr is a terminal; "
        "otherwise every 10 s)",
    )
    parser.set_defaults(handler=run)


def _input_stream(name: str) -> tuple[BinaryIO, int | None]:
    if name == "-":
        return sys.stdin.buffer, None
    stream = open(name, "rb")  # noqa: SIM115 - closed by the caller
    try:
        size = os.fstat(stream.fileno()).st_size
    except OSError:
        size = None
    return stream, size


def _progress_line(progress: ImportProgress) -> str:
    share = ""
    if progress.total_bytes:
        share = f" ({100 * progress.bytes_read / progress.total_bytes:.0f}%)"
    return f"produce: {progress.describe()}{share}"


async def _produce(
    args: argparse.Namespace, settings: Settings, stream: BinaryIO, size: int | None
) -> ImportResult:
    topic: str = args.topic or settings.raw_topic
    topics: dict[str, int | None] = {topic: None}
    if args.dlq:
        topics[settings.dlq_topic] = None
    await ensure_topics(settings, topics, timeout_s=args.timeout)
    stderr = sys.stderr
    source = "stdin" if args.input == "-" else args.input
    async with KafkaRecordSender(settings, start_timeout_s=args.timeout) as sender:
        dlq = DLQWriter(sender, settings.dlq_topic) if args.dlq else None

        async def on_rejected(line: RejectedLine) -> Awaitable[None] | None:
            reason = line.rejection.reason.value
            report = f"line {line.line_number}: {reason}: {line.rejection.message}"
            if dlq is not None:
                try:
                    return await dlq.send(
                        key=None,
                        value=line.value,
                        rejection=line.rejection,
                        source=SourceCoordinates.from_file(source, line.line_number),
                    )
                except PermanentError as exc:  # e.g. a line over Kafka's record size limit
                    report += f" (not sent to the DLQ: {exc})"
            stderr.write(report + "\n")
            return None

        interactive = args.progress or stderr.isatty()

        def on_progress(progress: ImportProgress) -> None:
            stderr.write(_progress_line(progress) + "\n")
            stderr.flush()

        return await import_jsonl(
            read_lines(stream),
            sender,
            topic,
            on_rejected=on_rejected,
            on_progress=on_progress,
            progress_interval_s=1.0 if interactive else 10.0,
            total_bytes=size,
            start_line=args.start_line,
            ack_timeout_s=args.timeout,
        )


def run(args: argparse.Namespace, settings: Settings) -> int:
    stderr = sys.stderr
    if args.start_line < 1 or args.timeout <= 0:
        print("sessionizer produce: --start-line must be 1 or more, --timeout over 0", file=stderr)
        return 2
    source = "stdin" if args.input == "-" else args.input
    try:
        stream, size = _input_stream(args.input)
    except OSError as exc:
        print(f"sessionizer produce: cannot read {source}: {exc.strerror or exc}", file=stderr)
        return 1
    try:
        result = asyncio.run(_produce(args, settings, stream, size))
    except SessionizerError as exc:
        print(f"sessionizer produce: {exc}", file=stderr)
        print("produce: nothing sent", file=stderr)
        return 1
    except OSError as exc:
        print(f"sessionizer produce: cannot read {source}: {exc.strerror or exc}", file=stderr)
        return 1
    finally:
        if stream is not sys.stdin.buffer:
            stream.close()
    progress = result.progress
    print(f"produce: {progress.describe()}", file=stderr)
    if result.error is not None:
        print(
            f"sessionizer produce: stopped: {result.error}. Every line before line "
            f"{result.first_unconfirmed_line} is on the topic (or rejected); continue with "
            f"--start-line {result.first_unconfirmed_line} (events from there that did reach "
            "the topic are dropped as duplicates by event_id).",
            file=stderr,
        )
        return 1
    if progress.sent == 0:
        print("sessionizer produce: nothing was sent (no valid line)", file=stderr)
        return 1
    return 0
