"""`sessionizer check`: compare analytics_user_sessions with `sessionizer fold` of a file."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
from collections.abc import Iterable, Iterator
from typing import Any, BinaryIO

import asyncpg

from ingest.topic_export import export_line, read_topic
from sessionizer.errors import ConfigError, TransientError
from sessionizer.settings import Settings
from sinks.migrations import quote_ident
from sinks.postgres_sink import TABLE
from sinks.snapshot_rows import SNAPSHOT_KEYS
from sinks.table_check import (
    COMPARED_COLUMNS,
    TableComparison,
    actual_columns,
    compare_tables,
    expected_columns,
)
from streams.offline_fold import FoldResult, OfflineFold, fold_lines

DESCRIPTION = """\
Compare the table analytics_user_sessions with the offline fold of raw events: the table is
right when, once every event was processed and flushed, each row equals the fold's final
snapshot of its batch (SPEC 7.1).

FILE holds raw events as JSON Lines (e.g. the file given to `produce`, or the output of
`sessionizer export`, which is the reference for what the raw topic holds); --snapshots says
FILE already holds `fold` output; --from-topic exports the raw topic in memory instead of
reading a file (as `sessionizer export | sessionizer check -`). The fold uses the worker's
session gap, SESSIONIZER_GAP_MS (or --gap-ms).

Rows and batches are matched on (session_id, batch_seq) and compared on every column but id,
created_at and updated_at, including the generated session_duration_ms, pages_visited and
bounce_session (computed from the snapshot as the table computes them). jsonb values are
compared as JSON (key order and number spelling do not matter). A user id kept in
metadata._unlinked_user_id (Supabase profile: no such user) counts as the row's user_id.

Prints how many batches matched, are missing from the table, are extra in the table, or
differ, then the first differences (column, expected, actual). Exit status 0 only when every
batch matches; 1 when some do not, or the database cannot be read; 2 for bad arguments or an
unreadable FILE."""


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "check",
        help="compare the table with `sessionizer fold` of a file (exit 0 when all match)",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "input", metavar="FILE", nargs="?", help="raw events as JSON Lines; '-' for stdin"
    )
    parser.add_argument(
        "--snapshots", action="store_true", help="FILE holds `fold` output, not raw events"
    )
    parser.add_argument(
        "--from-topic",
        action="store_true",
        help="fold an export of the raw topic (SESSIONIZER_RAW_TOPIC, or --topic) instead of FILE",
    )
    parser.add_argument("--topic", metavar="NAME", help="with --from-topic: the topic to read")
    parser.add_argument(
        "--schema", help="Postgres schema of the table (default SESSIONIZER_DB_SCHEMA)"
    )
    parser.add_argument(
        "--gap-ms",
        type=int,
        metavar="MS",
        help="session gap of the fold in ms, 0 disables (default SESSIONIZER_GAP_MS)",
    )
    parser.add_argument(
        "--show",
        type=int,
        default=10,
        metavar="N",
        help="show the first N differences, missing and extra batches (default 10)",
    )
    parser.set_defaults(handler=run)


def _lines(stream: BinaryIO) -> Iterator[bytes]:
    yield from stream


def _read_snapshots(stream: BinaryIO) -> list[dict[str, Any]]:
    snapshots = []
    for number, line in enumerate(stream, start=1):
        if not line.strip():
            continue
        try:
            snapshot = json.loads(line)
        except ValueError as exc:
            raise ConfigError(f"line {number}: not a JSON snapshot: {exc}") from None
        if not isinstance(snapshot, dict) or not set(SNAPSHOT_KEYS) <= set(snapshot):
            raise ConfigError(f"line {number}: not a snapshot of `sessionizer fold`")
        snapshots.append(snapshot)
    return snapshots


def _fold_file(stream: BinaryIO, gap_ms: int) -> FoldResult:
    return fold_lines(_lines(stream), gap_ms=gap_ms)


async def _fold_topic(settings: Settings, topic: str) -> FoldResult:
    fold = OfflineFold(gap_ms=settings.gap_ms)
    async for record in read_topic(settings, topic):
        line, _ = export_line(record.value, record.key, record.timestamp_ms)
        if line is not None:
            fold.add_line(line)
    return fold.result()


async def read_table(database_url: str, schema: str) -> list[dict[str, Any]]:
    """Every row of the table, in :func:`sinks.table_check.actual_columns` form."""
    table = f"{quote_ident(schema)}.{TABLE}"
    sql = f"SELECT {', '.join(COMPARED_COLUMNS)} FROM {table} ORDER BY session_id, batch_seq"
    try:
        conn = await asyncpg.connect(database_url)
    except (OSError, asyncpg.PostgresError) as exc:
        raise TransientError(f"cannot connect to Postgres: {exc}") from exc
    try:
        async with conn.transaction(readonly=True):
            return [actual_columns(row) async for row in conn.cursor(sql, prefetch=2000)]
    except asyncpg.UndefinedTableError:
        raise ConfigError(
            f"no table {table}: wrong --schema, or run `sessionizer migrate` first"
        ) from None
    finally:
        await conn.close()


def _print_keys(title: str, keys: Iterable[tuple[str, int]], total: int) -> None:
    keys = list(keys)
    if not total:
        return
    print(f"{title} ({total}; first {len(keys)}):")
    for session_id, batch_seq in keys:
        print(f"  {session_id} batch {batch_seq}")


def print_report(result: TableComparison) -> None:
    """The comparison, for humans, on stdout."""
    print(result.describe())
    _print_keys("missing from the table", result.missing_keys, result.missing)
    _print_keys("extra in the table", result.extra_keys, result.extra)
    if result.differing:
        columns = ", ".join(f"{name} {n}" for name, n in sorted(result.differing_columns.items()))
        print(f"differing columns (rows): {columns}")
        print(f"first differences ({len(result.differences)}):")
        for difference in result.differences:
            print(f"  {difference.describe()}")


def run(args: argparse.Namespace, settings: Settings) -> int:
    # aiokafka logs every manual partition assignment at INFO: noise on a command's stderr
    logging.getLogger("aiokafka.consumer.subscription_state").setLevel(logging.WARNING)
    if args.from_topic == (args.input is not None):
        print("sessionizer check: give FILE or --from-topic (one of them)", file=sys.stderr)
        return 2
    if args.show < 0:
        print("sessionizer check: --show must not be negative", file=sys.stderr)
        return 2
    if args.gap_ms is not None:
        if args.gap_ms < 0:
            print("sessionizer check: --gap-ms must not be negative", file=sys.stderr)
            return 2
        settings = settings.model_copy(update={"gap_ms": args.gap_ms})
    if args.from_topic:
        topic = args.topic or settings.raw_topic
        fold = asyncio.run(_fold_topic(settings, topic))
        snapshots = fold.snapshots
        print(f"check: fold of topic {topic}: {fold.summary.describe()}", file=sys.stderr)
    else:
        try:
            stream = sys.stdin.buffer if args.input == "-" else open(args.input, "rb")  # noqa: SIM115
        except OSError as exc:
            print(f"sessionizer check: cannot read {args.input}: {exc}", file=sys.stderr)
            return 2
        with stream:
            if args.snapshots:
                snapshots = _read_snapshots(stream)
            else:
                fold = _fold_file(stream, settings.gap_ms)
                snapshots = fold.snapshots
                print(f"check: fold of {args.input}: {fold.summary.describe()}", file=sys.stderr)
    schema = args.schema or settings.db_schema
    rows = asyncio.run(read_table(settings.database_url, schema))
    print(f"check: {len(snapshots)} batches expected, {len(rows)} rows in schema {schema}")
    result = compare_tables((expected_columns(s) for s in snapshots), rows, keep=args.show)
    print_report(result)
    return 0 if result.all_match else 1
