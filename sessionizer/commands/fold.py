"""`sessionizer fold FILE|-`: the offline fold of a raw-event JSON Lines file (SPEC 8)."""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from ingest.accepted_event import Rejection
from sessionizer.settings import Settings
from streams.offline_fold import FoldResult, fold_lines
from streams.snapshot import encode_snapshot

DESCRIPTION = """\
Fold raw events into session batches without Kafka or Postgres, exactly as the stream does.

Reads raw events as JSON Lines (one event per line; file order is log order; blank lines are
skipped but counted in line numbers) and prints the final snapshot of every batch as JSON Lines,
sorted by session_id then batch_seq, in canonical form (sorted keys, compact, UTF-8): the same
input always gives the same bytes. Each line is validated as the stream validates a record
(arrival time is received_at, else ts). A rejected line is skipped and reported on stderr as
"line N: <reason>: <message>"; a summary (events, accepted, duplicates, rejected per reason,
sessions, batches) ends stderr.

Exit status: 0 when the input was read to its end, even if some lines were rejected;
1 when the input cannot be read or the output cannot be written."""


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "fold",
        help="fold a raw-event JSON Lines file into final batch snapshots (offline)",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("input", metavar="FILE", help="raw events as JSON Lines; '-' for stdin")
    parser.add_argument(
        "-o",
        "--output",
        metavar="FILE",
        type=Path,
        help="write the snapshots to FILE (replaced whole at the end) instead of stdout",
    )
    parser.add_argument(
        "--gap-ms",
        type=int,
        metavar="MS",
        help="session gap in ms, 0 disables it (default: the gap_ms setting, "
        "SESSIONIZER_GAP_MS, 1800000)",
    )
    parser.add_argument(
        "--progress",
        action="store_true",
        help="report progress on stderr every 100000 lines (on by default when stderr "
        "is a terminal)",
    )
    parser.set_defaults(handler=run)


@contextlib.contextmanager
def _open_input(name: str) -> Iterator[BinaryIO]:
    if name == "-":
        yield sys.stdin.buffer
        return
    with open(name, "rb") as stream:
        yield stream


def _write_output(result: FoldResult, output: Path | None) -> None:
    lines = b"".join(encode_snapshot(snapshot) + b"\n" for snapshot in result.snapshots)
    if output is None:
        sys.stdout.buffer.write(lines)
        sys.stdout.buffer.flush()
        return
    partial = output.with_name(output.name + ".partial")
    partial.write_bytes(lines)
    os.replace(partial, output)


def run(args: argparse.Namespace, settings: Settings) -> int:
    gap_ms = settings.gap_ms if args.gap_ms is None else args.gap_ms
    if gap_ms < 0:
        print("sessionizer fold: --gap-ms must be 0 or more", file=sys.stderr)
        return 2
    stderr = sys.stderr
    show_progress = args.progress or stderr.isatty()

    def report_rejected(number: int, rejection: Rejection) -> None:
        stderr.write(f"line {number}: {rejection.reason.value}: {rejection.message}\n")

    def report_progress(lines: int) -> None:
        stderr.write(f"fold: {lines} lines read\n")
        stderr.flush()

    source = "stdin" if args.input == "-" else args.input
    try:
        with _open_input(args.input) as stream:
            result = fold_lines(
                stream,
                gap_ms=gap_ms,
                on_rejected=report_rejected,
                on_progress=report_progress if show_progress else None,
            )
    except OSError as exc:
        print(f"sessionizer fold: cannot read {source}: {exc.strerror or exc}", file=stderr)
        return 1
    try:
        _write_output(result, args.output)
    except BrokenPipeError:
        return 1
    except OSError as exc:
        target = "stdout" if args.output is None else str(args.output)
        print(f"sessionizer fold: cannot write {target}: {exc.strerror or exc}", file=stderr)
        return 1
    print(f"fold: {result.summary.describe()}", file=stderr)
    return 0
