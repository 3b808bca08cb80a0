"""`sessionizer simulate`: seeded synthetic traffic, to JSON Lines or straight to the raw topic."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import BinaryIO

from ingest.accepted_event import RejectReason
from ingest.kafka_producer import KafkaRecordSender
from ingest.kafka_topics import ensure_topics
from ingest.paced_sending import OutgoingRecord, send_paced
from ingest.simulated_bad_records import FILE_KINDS
from ingest.simulated_wire import SimulatedRecord
from ingest.traffic_simulator import (
    DEFAULT_START_MS,
    METADATA_KEYS,
    SimulationConfig,
    TrafficSimulator,
)
from sessionizer.settings import Settings

log = logging.getLogger(__name__)

DESCRIPTION = """\
Generate realistic raw-event traffic from a seed: the same options and seed give the same
bytes (no wall clock is read unless --start now).

Sessions start as a Poisson process (--sessions-per-minute) from --start and run at the same
time, so their events interleave as at a collector; one session's events are always in order.
Session shapes: bounces, a few pages, explorations (6-49 pages), LLM-heavy chats (llm_usage
with tokens and costs), conversions (goals, sometimes reported twice), and marathons of
hundreds of pages (rotated batches). Every event type appears; context metadata holds
workspace_id, plan, team_id, workspace_size and experiment_variant (--metadata); about a third
of sessions are anonymous ("anon-..." ids, some signing up mid-session). Some tabs sit idle for
more than 30 minutes (gap-closed batches). Most events carry received_at (the collector's
clock); some clients' clocks are skewed (seconds to hours) and send sent_at; backend llm_usage
events mostly have no received_at. A share of events is delivered twice (--duplicate-share),
and a share of extra records is bad (--bad-share), spread over bad_json, invalid_event,
bad_timestamp, too_large (five times rarer: each is over 64 KiB) and, with --to-kafka only,
key_mismatch (a valid event keyed by another id). Drawing key_mismatch changes the random
stream, so a Kafka run and a file run of one seed hold different traffic; `sessionizer export`
gives the file that matches a Kafka run.

Output: JSON Lines to --output (default stdout), or with --to-kafka records to the raw topic
(or --topic), keyed by session_id, with the record timestamp set to received_at, else ts
(SPEC 8), optionally at --rate events per second. A summary (sessions, events, duplicates,
bad records by reason) ends stderr; long runs report progress there."""


def _share(text: str) -> float:
    value = float(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1, not {text}")
    return value


def _count(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must not be negative, not {text}")
    return value


def _start(text: str) -> int:
    if text == "now":
        return int(time.time()) * 1000
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO 8601 time or 'now': {text}") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1000)


_METADATA_NAMES = {
    "workspace": "workspace_id",
    "plan": "plan",
    "team": "team_id",
    "workspace_size": "workspace_size",
    "experiment_variant": "experiment_variant",
}


def _metadata(text: str) -> tuple[str, ...]:
    if text in ("", "none"):
        return ()
    keys = []
    for name in text.replace("/", ",").split(","):
        key = _METADATA_NAMES.get(name.strip(), name.strip())
        if key not in METADATA_KEYS:
            raise argparse.ArgumentTypeError(
                f"unknown metadata {name!r}; choose from {', '.join(_METADATA_NAMES)}"
            )
        keys.append(key)
    return tuple(keys)


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "simulate",
        help="generate seeded synthetic traffic (JSON Lines or the raw topic)",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    size = parser.add_mutually_exclusive_group()
    size.add_argument(
        "--sessions", type=_count, metavar="N", help="generate N whole sessions (default 1000)"
    )
    size.add_argument(
        "--events",
        type=_count,
        metavar="N",
        help="stop after N records (sessions in flight are cut, as a time window cuts them)",
    )
    target = parser.add_mutually_exclusive_group()
    target.add_argument(
        "--output", "-o", metavar="FILE", default="-", help="JSON Lines file; '-' for stdout"
    )
    target.add_argument(
        "--to-kafka", action="store_true", help="produce to the raw topic instead of a file"
    )
    parser.add_argument(
        "--topic", metavar="NAME", help="with --to-kafka: topic (default SESSIONIZER_RAW_TOPIC)"
    )
    parser.add_argument(
        "--rate",
        type=float,
        metavar="EVENTS_PER_S",
        help="with --to-kafka: send at most this many records per second (default: no limit)",
    )
    parser.add_argument(
        "--bad-share",
        type=_share,
        default=0.01,
        metavar="SHARE",
        help="chance, per event, of a bad record before it (default 0.01)",
    )
    parser.add_argument(
        "--duplicate-share",
        type=_share,
        default=0.01,
        metavar="SHARE",
        help="share of events delivered twice (default 0.01)",
    )
    parser.add_argument(
        "--anonymous-share",
        type=_share,
        default=0.35,
        metavar="SHARE",
        help="share of anonymous sessions (default 0.35)",
    )
    parser.add_argument(
        "--start",
        type=_start,
        default=DEFAULT_START_MS,
        metavar="TIME",
        help="when the traffic starts, ISO 8601 (default 2026-11-25T08:00:00Z). 'now' reads "
        "the clock (not reproducible); mind a topic's time retention (7 days by default) "
        "when producing old times to Kafka",
    )
    parser.add_argument(
        "--sessions-per-minute",
        type=float,
        default=120.0,
        metavar="R",
        help="how many sessions start per minute of simulated time (default 120)",
    )
    parser.add_argument(
        "--metadata",
        type=_metadata,
        default=METADATA_KEYS,
        metavar="KEYS",
        help="context metadata to send, comma separated from workspace, plan, team, "
        "workspace_size, experiment_variant (default all; 'none' for none)",
    )
    parser.add_argument(
        "--workspaces", type=int, default=200, metavar="N", help="distinct workspaces (200)"
    )
    parser.add_argument(
        "--users", type=int, default=5000, metavar="N", help="distinct signed-in users (5000)"
    )
    parser.set_defaults(handler=run)


def _config(args: argparse.Namespace) -> SimulationConfig:
    bad_kinds = FILE_KINDS + ((RejectReason.KEY_MISMATCH,) if args.to_kafka else ())
    sessions = args.sessions if args.sessions is not None or args.events is not None else 1000
    return SimulationConfig(
        seed=args.seed,
        sessions=sessions,
        events=args.events,
        start_ms=args.start,
        sessions_per_minute=args.sessions_per_minute,
        bad_share=args.bad_share,
        duplicate_share=args.duplicate_share,
        bad_kinds=bad_kinds,
        anonymous_share=args.anonymous_share,
        metadata_keys=args.metadata,
        workspaces=args.workspaces,
        users=args.users,
    )


class _Progress:
    """Reports progress on stderr about every few seconds."""

    def __init__(self, simulator: TrafficSimulator, every_s: float = 5.0) -> None:
        self._simulator = simulator
        self._every_s = every_s
        self._started = time.monotonic()
        self._next = self._started + every_s

    def maybe_report(self) -> None:
        now = time.monotonic()
        if now >= self._next:
            self._next = now + self._every_s
            summary = self._simulator.summary
            rate = summary.events / max(now - self._started, 1e-9)
            print(
                f"simulate: {summary.events} records, {summary.sessions} sessions "
                f"({rate:,.0f} records/s)",
                file=sys.stderr,
            )


def write_records(records: Iterator[SimulatedRecord], out: BinaryIO, progress: _Progress) -> None:
    """Write each record's value as one line."""
    write = out.write
    for count, record in enumerate(records, start=1):
        write(record.value + b"\n")
        if count % 10_000 == 0:
            progress.maybe_report()


async def _to_kafka(
    settings: Settings, topic: str, simulator: TrafficSimulator, rate: float | None
) -> int:
    await ensure_topics(settings, {topic: None})
    outgoing: Iterator[OutgoingRecord] = (
        (record.key, record.value, record.timestamp_ms) for record in simulator.records()
    )
    async with KafkaRecordSender(settings, client_id="sessionizer-simulate") as sender:
        return await send_paced(
            sender,
            topic,
            outgoing,
            rate=rate,
            on_progress=lambda sent: print(f"simulate: {sent} records sent", file=sys.stderr),
        )


def run(args: argparse.Namespace, settings: Settings) -> int:
    try:
        config = _config(args)
    except ValueError as exc:
        print(f"sessionizer simulate: {exc}", file=sys.stderr)
        return 2
    if not args.to_kafka and (args.topic is not None or args.rate is not None):
        print("sessionizer simulate: --topic and --rate need --to-kafka", file=sys.stderr)
        return 2
    if args.rate is not None and args.rate <= 0:
        print("sessionizer simulate: --rate must be positive", file=sys.stderr)
        return 2
    simulator = TrafficSimulator(config)
    if args.to_kafka:
        topic = args.topic or settings.raw_topic
        sent = asyncio.run(_to_kafka(settings, topic, simulator, args.rate))
        print(f"simulate: {sent} records sent to {topic}", file=sys.stderr)
    else:
        progress = _Progress(simulator)
        if args.output == "-":
            try:
                write_records(simulator.records(), sys.stdout.buffer, progress)
                sys.stdout.buffer.flush()
            except BrokenPipeError:  # e.g. piped into `head`: the reader has had enough
                sys.stdout = None
                return 0
        else:
            with open(args.output, "wb") as out:
                write_records(simulator.records(), out, progress)
    print(f"simulate: {simulator.summary.describe()}", file=sys.stderr)
    return 0
