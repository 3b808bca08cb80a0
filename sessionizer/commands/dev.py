"""`sessionizer dev up | down | status`: the local Kafka broker and Postgres server."""

from __future__ import annotations

import argparse
import asyncio
import sys

from sessionizer.devstack.local_stack import LocalStack
from sessionizer.settings import Settings

DESCRIPTION = """\
Run the local stack this project uses for development and tests, with no Docker:
an Apache Kafka 3.9.1 broker (single-node KRaft, jars from Maven Central fetched by
`make install`) on 127.0.0.1:$SESSIONIZER_DEV_KAFKA_PORT (default 19092), and a Postgres
server (Debian's package; installed with apt-get when missing) on
127.0.0.1:$SESSIONIZER_DEV_POSTGRES_PORT (default 55432) with role and database `sessionizer`
(no password). Data, logs and pid files live in $SESSIONIZER_DEV_DIR (default .dev/).
"""

EPILOG = """\
examples:
  sessionizer dev up            start both, then print the variables to export
  eval "$(sessionizer dev up)"  start both and point this shell at them
  sessionizer dev status        running/stopped, pid, reachable (exit 0 only if both run and answer)
  sessionizer dev down          stop both (others may be using them!)
"""


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "dev",
        help="start/stop/inspect the local Kafka and Postgres (no Docker needed)",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    actions = parser.add_subparsers(dest="dev_action", metavar="ACTION", required=True)
    actions.add_parser(
        "up",
        help="start Kafka and Postgres (idempotent), wait until both answer, print exports",
        description="Start Kafka and Postgres unless running; wait until both answer; print "
        "`export KAFKA_BOOTSTRAP_SERVERS=...` and `export DATABASE_URL=...` on stdout.",
    )
    down = actions.add_parser(
        "down",
        help="stop Kafka and Postgres (clean shutdown; data is kept)",
        description="Stop the local services: Kafka with SIGTERM (SIGKILL after 30 s), "
        "Postgres with `pg_ctl stop -m fast`. Data in the dev folder is kept.",
    )
    down.add_argument("--kafka-only", action="store_true", help="stop only Kafka")
    down.add_argument("--postgres-only", action="store_true", help="stop only Postgres")
    actions.add_parser(
        "status",
        help="show each service: running/stopped, pid, address, reachable",
        description="Show each local service: running or stopped, its pid, its address and "
        "whether it answers (Kafka: a metadata request; Postgres: a login). Exit status 0 "
        "when both run (from this checkout's dev folder) and answer, 3 otherwise.",
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    stack = LocalStack(settings)
    action: str = args.dev_action
    if action == "up":
        return asyncio.run(_up(stack))
    if action == "down":
        return asyncio.run(_down(stack, args))
    return asyncio.run(_status(stack))


async def _up(stack: LocalStack) -> int:
    result = await stack.up()
    for name, started in (
        ("postgres", result.postgres_started),
        ("kafka", result.kafka_started),
    ):
        state = "started" if started else "already running"
        print(f"sessionizer dev: {name} {state}", file=sys.stderr)
    print(stack.exports())
    return 0


async def _down(stack: LocalStack, args: argparse.Namespace) -> int:
    stopped = await stack.down(kafka=not args.postgres_only, postgres=not args.kafka_only)
    if stopped:
        print(f"sessionizer dev: stopped {', '.join(stopped)}", file=sys.stderr)
    else:
        print("sessionizer dev: nothing was running", file=sys.stderr)
    return 0


async def _status(stack: LocalStack) -> int:
    states = await stack.status()
    for state in states:
        running = f"running (pid {state.pid})" if state.running else "stopped"
        reachable = "reachable" if state.reachable else "not reachable"
        print(f"{state.name:<9} {running:<22} {state.address:<16} {reachable}")
    return 0 if all(state.running and state.reachable for state in states) else 3
