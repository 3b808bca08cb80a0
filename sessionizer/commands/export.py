"""`sessionizer export`: the raw topic (or a time range of it) as JSON Lines."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from datetime import UTC, datetime
from typing import BinaryIO

from ingest.topic_export import ExportSummary, export_topic
from sessionizer.settings import Settings

DESCRIPTION = """\
Write the raw topic to JSON Lines, so that `sessionizer fold` of the export is the reference
the table is checked against (`sessionizer check`).

Reads with a consumer of no group (nothing committed, no other consumer disturbed) every
partition from its start (or from --since) up to the end offsets taken when export starts;
records appended later are not read. Partition 0 is written first, then 1, and so on: one
session lives in one partition, so each session's events keep their log order.

Faithful to what the stream saw:
  - a JSON object without received_at (or with received_at null) gets received_at = the record
    timestamp, appended as its last member (the stream used the record timestamp as arrival
    time; a file has no record timestamps, and `fold` would otherwise use ts);
  - a record the stream rejects for key_mismatch (key missing, or not its session_id) is left
    out, since a file has no keys and `fold` would accept it; it is counted on stderr;
  - every other value is written as it is, including values the stream rejected (bad JSON,
    invalid events, bad timestamps, too large), so that `fold` of the export rejects the same
    records for the same reasons as the DLQ holds. Line breaks between JSON tokens become
    spaces; an empty value, or a line break inside a value that is not JSON, cannot be one
    line: such records are left out and counted.
With --since/--until only records whose timestamp is in [SINCE, UNTIL) are written; a session
cut by the range folds differently from the whole topic, so compare a whole-topic export with
the table.

A summary (records read, lines written, received_at filled, records left out by cause) ends
stderr. Exit status 0 on success, 1 when Kafka or the topic cannot be read, 2 for bad
arguments."""


def _time_ms(text: str) -> int:
    if text.isdigit():
        return int(text)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"not an ISO 8601 time or epoch milliseconds: {text}"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1000)


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "export",
        help="write the raw topic (or a time range of it) as JSON Lines for `fold`",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--output", "-o", metavar="FILE", default="-", help="JSON Lines file; '-' for stdout"
    )
    parser.add_argument(
        "--topic", metavar="NAME", help="topic to export (default SESSIONIZER_RAW_TOPIC)"
    )
    parser.add_argument(
        "--since",
        type=_time_ms,
        metavar="TIME",
        help="first record timestamp to include (ISO 8601, or epoch ms)",
    )
    parser.add_argument(
        "--until",
        type=_time_ms,
        metavar="TIME",
        help="record timestamps before this only (ISO 8601, or epoch ms)",
    )
    parser.set_defaults(handler=run)


def _report(summary: ExportSummary) -> None:
    print(f"export: {summary.records} records read, {summary.written} written", file=sys.stderr)


async def _export(
    settings: Settings, topic: str, out: BinaryIO, args: argparse.Namespace
) -> ExportSummary:
    return await export_topic(
        settings,
        topic,
        out.write,
        since_ms=args.since,
        until_ms=args.until,
        on_progress=_report,
    )


def run(args: argparse.Namespace, settings: Settings) -> int:
    # aiokafka logs every manual partition assignment at INFO: noise on a command's stderr
    logging.getLogger("aiokafka.consumer.subscription_state").setLevel(logging.WARNING)
    if args.since is not None and args.until is not None and args.since >= args.until:
        print("sessionizer export: --since must be before --until", file=sys.stderr)
        return 2
    topic = args.topic or settings.raw_topic
    if args.output == "-":
        summary = asyncio.run(_export(settings, topic, sys.stdout.buffer, args))
        sys.stdout.buffer.flush()
    else:
        with open(args.output, "wb") as out:
            summary = asyncio.run(_export(settings, topic, out, args))
    print(f"export of {topic}: {summary.describe()}", file=sys.stderr)
    return 0
