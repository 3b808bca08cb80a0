"""`sessionizer sink`: upsert the session stream into Postgres until interrupted."""

from __future__ import annotations

import argparse
import asyncio
import signal

from sessionizer.settings import Settings
from sinks.session_stream_sink import run_sink


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "sink",
        help="write the session stream into Postgres (runs until Ctrl-C)",
        description=(
            "Consume the session stream (SESSIONIZER_SESSIONS_TOPIC) as consumer group "
            "SESSIONIZER_SINK_GROUP_ID and upsert each batch snapshot into "
            "analytics_user_sessions (run `sessionizer migrate` first). Snapshots are written "
            "in batches of up to SESSIONIZER_SINK_BATCH_SIZE or every "
            "SESSIONIZER_SINK_BATCH_AGE_S seconds, keeping the highest version per batch; "
            "offsets are committed only after Postgres has committed. While Postgres is down "
            "it retries with backoff; rows Postgres rejects go to the DLQ topic. "
            "`sessionizer worker` runs the same sink in a child process by default."
        ),
    )
    parser.set_defaults(handler=run)


async def _main(settings: Settings) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    await run_sink(settings, stop)


def run(args: argparse.Namespace, settings: Settings) -> int:
    asyncio.run(_main(settings))
    return 0
