"""`sessionizer replay`: rebuild the table and the session stream from the raw topic."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from sessionizer.errors import ConfigError
from sessionizer.settings import Settings

if TYPE_CHECKING:
    from streams.topic_replay import StreamPlan

DESCRIPTION = """\
Rebuild analytics_user_sessions (and the session stream) from the raw topic: reset the
worker's state so that the next `sessionizer worker` folds the raw topic again, from its start
(default) or from a timestamp. Nothing runs while a worker or sink of this app is running: the
command refuses when the consumer group SESSIONIZER_WORKER_APP_ID or SESSIONIZER_SINK_GROUP_ID
has members (state not Empty/Dead). Stop every worker and sink first.

What a replay from the start resets, and why:
  1. the worker group's committed offsets on the raw topic: the log start of each partition;
  2. the Faust table: the changelog topic <app id>-sessions-changelog is deleted and created
     again empty (same partition count and topic configs; a compacted topic refuses
     DeleteRecords), and the local RocksDB partitions under SESSIONIZER_WORKER_DATA_DIR are
     removed (only this machine's: on other machines remove their data dirs by hand);
     otherwise the worker would restore the old states and drop every replayed event as a
     duplicate;
  3. the session stream: the end offsets before the replay are the "mark"; records before it
     are deleted (DeleteRecords) and the sink group's offsets are set to it, so the sink
     writes only rebuilt snapshots, and the stream's consumers never see an old snapshot and
     its rebuilt twin with the same version but other content (a rule change). Once the old
     records are gone, "the mark" and "the start" are the same offsets; without the deletion,
     starting the sink at the start would write old snapshots first, and their rebuilt twins
     (equal versions) would then be ignored: the mark is the one correct choice;
  4. the table: every row is deleted, in one transaction. A rebuilt batch has the same
     (session_id, batch_seq) and version as its row, and an upsert never replaces a row with
     an equal version: a row that a rule change or a bug fix alters would never be rewritten.
     Deleting keeps SPEC 7.1 (table == offline fold of the raw topic): after the worker
     drained, `sessionizer check --from-topic` passes, and replaying twice gives the same rows.
     Between the reset and the drain the table is incomplete.

A replay from a timestamp (--from-timestamp T, needs --yes-i-know) starts each partition at
the first record whose Kafka timestamp is at or after T, with EMPTY session states. It is
NOT exact for sessions that have events both before and after the starting offsets: their
rebuilt batches restart at batch_seq 0 without their earlier events and cumulative maps. It
deletes the rows of every session with a raw record at or after the starting offsets (the
command scans them; --dry-run shows how many), so those sessions hold only the rebuilt
batches; rows of sessions entirely before T stay as they are, and their states are gone: a
later event of such a session starts at batch_seq 0 and is not written over the old row's
higher version. The session stream is not truncated (older records stay valid). Use it only
when no session spans T (e.g. after a quiet period longer than SESSIONIZER_GAP_MS); otherwise
replay from the start.

Also refused without --yes-i-know: a replay from the start when the raw topic no longer
starts at offset 0 (retention deleted events: their sessions' rows would be lost for good).

The DLQ is not reset (`produce --dlq` also writes to it): a replay dead-letters rejected raw
records again; records with equal source.topic/source.partition/source.offset headers are the
same rejection.

--dry-run shows the plan (groups, offsets before -> after, changelog, local store, mark, rows
to delete) and changes nothing. Without --yes the plan is shown and nothing is done.
--run then starts `sessionizer worker` (log in SESSIONIZER_DEV_DIR/replay/worker.log), shows
the lag per partition shrinking, and stops it once the pipeline is drained (worker lag 0,
no new snapshot for one flush interval, sink lag 0); without --run, start `sessionizer worker`
yourself. Every step can be run again: if the replay is interrupted, run it again before
starting a worker (a worker started between the Kafka reset and the row deletion would leave
rows that the deletion then removes: replay again).

Exit status: 0 done (or dry run); 1 refused because a worker runs, or a failure; 2 bad
arguments, or a replay that needs --yes / --yes-i-know."""


def _timestamp_ms(text: str) -> int:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO 8601 time: {text!r}") from None
    if moment.tzinfo is None:
        raise argparse.ArgumentTypeError(f"give an offset or Z (e.g. {text}Z)")
    return int(moment.timestamp() * 1000)


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "replay",
        help="rebuild the table and the session stream from the raw topic (workers stopped)",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--from-timestamp",
        type=_timestamp_ms,
        metavar="TIME",
        help="start at the first record at or after TIME (ISO 8601 with offset); not exact, "
        "see above; needs --yes-i-know",
    )
    parser.add_argument("--dry-run", action="store_true", help="show the plan, change nothing")
    parser.add_argument("--yes", action="store_true", help="do it (deletes table rows)")
    parser.add_argument(
        "--yes-i-know",
        action="store_true",
        help="accept a replay that cannot rebuild the table exactly (from a timestamp, or a "
        "raw topic truncated by retention)",
    )
    parser.add_argument(
        "--run", action="store_true", help="then run the worker until drained, and stop it"
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=1800.0,
        metavar="S",
        help="with --run: give up after S seconds (default 1800)",
    )
    parser.add_argument("--schema", help="Postgres schema of the table (SESSIONIZER_DB_SCHEMA)")
    parser.set_defaults(handler=run)


def _say(line: str) -> None:
    print(f"replay: {line}", file=sys.stderr, flush=True)


def _print_plan(plan: StreamPlan, doomed: int, total: int, schema: str) -> None:
    from streams.topic_replay import describe_plan

    start = (
        "the start of the raw topic"
        if plan.from_ms is None
        else "the first record at or after "
        + datetime.fromtimestamp(plan.from_ms / 1000, tz=UTC).isoformat(timespec="milliseconds")
    )
    print(f"replay plan (from {start}):")
    for line in describe_plan(plan):
        print(f"  {line}")
    scope = (
        "every row"
        if plan.session_ids is None
        else f"rows of {len(plan.session_ids)} sessions seen at or after the start"
    )
    print(
        f"  table {schema}.analytics_user_sessions: delete {doomed} of {total} rows "
        f"({scope}), in one transaction"
    )


def _worker_log(settings: Settings) -> Path:
    folder = settings.dev_dir / "replay"
    folder.mkdir(parents=True, exist_ok=True)
    return folder / "worker.log"


async def _run_worker_until_drained(settings: Settings, timeout_s: float) -> None:
    from streams.pipeline_drain import wait_drained

    log_path = _worker_log(settings)
    _say(f"starting `sessionizer worker` (log: {log_path})")
    with log_path.open("ab") as log_file:
        # The worker builds its settings from the same environment as this command.
        worker = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "sessionizer.cli", "worker", stdout=log_file, stderr=log_file
        )
    started = time.monotonic()

    def progress(line: str) -> None:
        _say(f"[{time.monotonic() - started:5.0f}s] {line}")

    try:
        await wait_drained(
            settings, progress, timeout_s=timeout_s, alive=lambda: worker.returncode is None
        )
    finally:
        if worker.returncode is None:
            worker.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(worker.wait(), 60)
            except TimeoutError:
                worker.kill()
                await worker.wait()
        _say(f"worker stopped (exit status {worker.returncode})")
    if worker.returncode not in (0, -signal.SIGTERM):
        raise ConfigError(f"the worker exited with {worker.returncode}: see {log_path}")


async def _replay(args: argparse.Namespace, settings: Settings) -> int:
    # Imported here: the table reset names Faust's changelog, and Faust is slow to import.
    from streams.replay_rows import count_rows, delete_rows
    from streams.topic_replay import (
        apply_stream_reset,
        plan_stream_reset,
        refuse_if_running,
    )

    started = time.monotonic()
    schema = args.schema or settings.db_schema
    plan = await plan_stream_reset(settings, args.from_timestamp, _say)
    doomed, total = await count_rows(settings.database_url, schema, plan.session_ids)
    _print_plan(plan, doomed, total, schema)
    refuse_if_running(plan.groups)
    if args.dry_run:
        print("dry run: nothing changed")
        return 0
    inexact = plan.from_ms is not None or plan.lost_to_retention
    if inexact and not args.yes_i_know:
        why = (
            "a replay from a timestamp is not exact for sessions that span it"
            if plan.from_ms is not None
            else "the raw topic lost events to retention: their rows would be deleted for good"
        )
        print(f"refused: {why}; add --yes-i-know to do it anyway (see --help)", file=sys.stderr)
        return 2
    if not args.yes:
        print("nothing done: add --yes to replay (it deletes the rows above)", file=sys.stderr)
        return 2
    await apply_stream_reset(settings, plan, _say)
    deleted = await delete_rows(settings.database_url, schema, plan.session_ids)
    _say(f"table: {deleted} rows deleted")
    if args.run:
        await _run_worker_until_drained(settings, args.timeout)
        after, _ = await count_rows(settings.database_url, schema, None)
        elapsed = time.monotonic() - started
        rate = plan.events_to_replay / elapsed if elapsed > 0 else 0.0
        print(
            f"replay done in {elapsed:.1f} s: {plan.events_to_replay} raw records replayed "
            f"({rate:.0f}/s), {deleted} rows deleted, {after} rows in the table now. "
            "Check it: sessionizer check --from-topic"
        )
    else:
        print(
            f"replay reset done in {time.monotonic() - started:.1f} s: {deleted} rows deleted, "
            f"{plan.events_to_replay} raw records to replay. Now start `sessionizer worker`; "
            "once it has drained, `sessionizer check --from-topic` compares the table."
        )
    return 0


def run(args: argparse.Namespace, settings: Settings) -> int:
    # aiokafka logs manual assignments and coordinators at INFO: noise on a command's stderr
    for name in ("aiokafka.consumer.subscription_state", "aiokafka.consumer.group_coordinator"):
        logging.getLogger(name).setLevel(logging.WARNING)
    return asyncio.run(_replay(args, settings))
