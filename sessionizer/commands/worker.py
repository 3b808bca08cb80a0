"""`sessionizer worker`: the stream worker (Faust) folding raw events into session batches."""

from __future__ import annotations

import argparse

from sessionizer.settings import Settings

DESCRIPTION = """\
Consume the raw topic (SESSIONIZER_RAW_TOPIC), validate every record, fold accepted events per
session (SPEC 3) in a Faust table with a changelog, and send batch snapshots to the session
stream (SESSIONIZER_SESSIONS_TOPIC), keyed by session_id. Rejected records go to the DLQ topic
(SESSIONIZER_DLQ_TOPIC) with error.reason/error.message/source.* headers; duplicates are
counted and dropped. Every dirty batch is sent at least every SESSIONIZER_FLUSH_INTERVAL_S.

Records are handled in micro-batches (SESSIONIZER_WORKER_BATCH_SIZE records or
SESSIONIZER_WORKER_BATCH_TIMEOUT_S): each touched session's state is written to the table once
per batch, and offsets are committed only once the batch's snapshots, DLQ records and
changelog records are acknowledged by Kafka, so a crash loses nothing. Start several workers
with the same SESSIONIZER_WORKER_APP_ID to share partitions (each with its own
SESSIONIZER_WORKER_DATA_DIR and SESSIONIZER_WORKER_WEB_PORT).

State store: SESSIONIZER_WORKER_STORE, rocksdb:// (default; local files under
SESSIONIZER_WORKER_DATA_DIR, restored from the changelog when missing) or memory://.
The Postgres sink runs in a child process of the worker unless SESSIONIZER_WORKER_RUN_SINK=false.
An INFO stats line is logged every SESSIONIZER_STATS_INTERVAL_S; GET /metrics on the web port
serves the same figures for Prometheus. Stops cleanly on SIGINT/SIGTERM.

Exit status: 0 after a clean stop; 1 on a crash or a configuration error (for example a raw
topic or changelog whose partition count differs from SESSIONIZER_TOPIC_PARTITIONS)."""


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "worker",
        help="run the stream worker: raw events -> session batch snapshots (until Ctrl-C)",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    from streams.worker_runtime import run_worker  # Faust is slow to import: only here

    return run_worker(settings)
