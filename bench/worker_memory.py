"""Worker memory: per open session, and over a steady run.

    .venv/bin/python bench/worker_memory.py sessions [--sessions 100000]
    .venv/bin/python bench/worker_memory.py steady [--minutes 10] [--rate 1000] [--every 10]
                                                  [--warm-up MINUTES]

``sessions``: one ``sessionizer worker`` (default settings but the names, RocksDB store,
sink process); after a warm-up event its resident memory (VmRSS) is read, then one
``page_view`` of each of N new sessions is produced. VmRSS is read again once all N are folded
(before the interval flush), and once the interval flush sent their snapshots and the sink
wrote them; memory per open session = the growth / N.

``steady``: simulated traffic (``TrafficSimulator``, sessions start and end all the time) sent
at ``--rate`` events/s for ``--minutes``; VmRSS sampled every ``--every`` seconds, printed as
it goes, for the whole process tree and for each of its processes (the worker, its sink
process, multiprocessing's resource tracker); then a summary for the tree and for each process:
first, last, peak of the samples, and the slope (MiB/min) after the warm-up (``--warm-up``
minutes, default the first half of the run; the bounded caches fill during it).

Names (topics, groups, schema) carry a random token and are removed afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import asyncpg

from bench.e2e_data import (
    Record,
    bench_producer,
    create_schema,
    create_topic,
    delete_topics_with,
    drop_schema,
    simulate,
    table_name,
)
from bench.e2e_worker import RunNames, Worker, memory_kib, process_memory_kib, process_tree
from sessionizer.settings import Settings

PARTITIONS = 6
PROCESS_ROLES = ("worker", "sink", "tracker")


def say(text: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)


def page_view(session_id: str, ts_ms: int) -> Record:
    moment = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ts_ms / 1000))
    event = {
        "event_id": str(uuid.uuid4()),
        "session_id": session_id,
        "type": "page_view",
        "path": "/home",
        "ts": f"{moment}.{ts_ms % 1000:03d}Z",
    }
    return Record(session_id.encode(), json.dumps(event).encode(), ts_ms)


def rss_by_role(worker_pid: int) -> dict[str, float]:
    """VmRSS (MiB) of the worker's process tree, by role: worker, sink, tracker (and other)."""
    found: dict[str, float] = {}
    for pid in process_tree(worker_pid):
        figures = process_memory_kib(pid)
        try:
            command = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            figures = None
        if figures is None:  # the process is gone
            continue
        if pid == worker_pid:
            role = "worker"
        elif b"resource_tracker" in command:
            role = "tracker"
        elif b"spawn_main" in command:
            role = "sink"
        else:
            role = "other"
        found[role] = found.get(role, 0.0) + figures[0] / 1024
    return found


def slope_mib_per_min(samples: list[tuple[float, float]]) -> float:
    """Least-squares slope of (seconds, MiB) samples, in MiB per minute (0 for < 2 samples)."""
    if len(samples) < 2:
        return 0.0
    xs, ys = [s[0] / 60 for s in samples], [s[1] for s in samples]
    mean_x, mean_y = statistics.fmean(xs), statistics.fmean(ys)
    return sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys, strict=True)) / max(
        sum((x - mean_x) ** 2 for x in xs), 1e-9
    )


async def start_worker(
    base: Settings, names: RunNames, extra_env: dict[str, str]
) -> tuple[Worker, Any]:
    await create_topic(base.kafka_bootstrap_servers, names.raw_topic, PARTITIONS)
    await create_schema(base.database_url, names.schema)
    worker = Worker(base, names, partitions=PARTITIONS, extra_env=extra_env)
    worker.start()
    conn = await asyncpg.connect(base.database_url)
    warmup = page_view(f"warmup-{names.token}", int(time.time() * 1000))
    producer = bench_producer(base.kafka_bootstrap_servers)
    await producer.start()
    try:
        await (
            await producer.send(
                names.raw_topic, warmup.value, key=warmup.key, timestamp_ms=warmup.timestamp_ms
            )
        )
    finally:
        await producer.stop()
    deadline = time.monotonic() + 120
    while not await conn.fetchval(f"SELECT count(*) FROM {table_name(names.schema)}"):
        worker.check_alive()
        if time.monotonic() > deadline:
            raise RuntimeError(f"worker not ready:\n{worker.log_tail()}")
        await asyncio.sleep(0.5)
    return worker, conn


async def cleanup(base: Settings, names: RunNames, worker: Worker, conn: Any) -> None:
    worker.stop()
    await conn.close()
    await drop_schema(base.database_url, names.schema)
    await delete_topics_with(base.kafka_bootstrap_servers, names.token)


async def per_session(args: argparse.Namespace) -> None:
    base = Settings()
    token = uuid.uuid4().hex[:8]
    names = RunNames(f"mem{token}", f"bench-mem-raw-mem{token}")
    worker, conn = await start_worker(base, names, worker_env(args))
    try:
        await asyncio.sleep(3)
        before_kib, _ = memory_kib(worker.pid)
        now = int(time.time() * 1000)
        records = [page_view(f"mem-{token}-{n:07d}", now) for n in range(args.sessions)]
        producer = bench_producer(base.kafka_bootstrap_servers)
        await producer.start()
        try:
            acks = [
                await producer.send(
                    names.raw_topic, r.value, key=r.key, timestamp_ms=r.timestamp_ms
                )
                for r in records
            ]
            await asyncio.gather(*acks)
        finally:
            await producer.stop()
        say(f"{args.sessions:,} sessions produced; RSS before {before_kib / 1024:.0f} MiB")
        while (await worker.metric("sessionizer_worker_events_total") or 0) < args.sessions + 1:
            worker.check_alive()
            await asyncio.sleep(0.5)
        folded_kib, _ = memory_kib(worker.pid)
        table = table_name(names.schema)
        while await conn.fetchval(f"SELECT count(*) FROM {table}") < args.sessions + 1:
            worker.check_alive()
            await asyncio.sleep(1)
        await asyncio.sleep(3)
        written_kib, peak_kib = memory_kib(worker.pid)
    finally:
        await cleanup(base, names, worker, conn)
    n = args.sessions
    print(f"sessions opened: {n:,}")
    print(
        f"RSS before: {before_kib / 1024:.0f} MiB; all folded: {folded_kib / 1024:.0f} MiB; "
        f"after flush and sink: {written_kib / 1024:.0f} MiB; peak {peak_kib / 1024:.0f} MiB"
    )
    print(
        f"per open session, folded: {(folded_kib - before_kib) * 1024 / n:,.0f} bytes; "
        f"after flush and sink: {(written_kib - before_kib) * 1024 / n:,.0f} bytes"
    )


async def steady(args: argparse.Namespace) -> None:
    base = Settings()
    token = uuid.uuid4().hex[:8]
    names = RunNames(f"steady{token}", f"bench-steady-raw-steady{token}")
    total = int(args.rate * args.minutes * 60)
    say(f"simulating {total:,} events")
    records = simulate(total, 777)
    worker, conn = await start_worker(base, names, worker_env(args))
    samples: list[tuple[float, dict[str, float]]] = []

    def sample(elapsed: float, sent: int) -> None:
        by_role = rss_by_role(worker.pid)
        by_role["tree"] = sum(by_role.values())
        samples.append((elapsed, by_role))
        parts = ", ".join(
            f"{role} {by_role[role]:.0f}" for role in PROCESS_ROLES if role in by_role
        )
        say(f"t={elapsed:5.0f} s  sent {sent:,}  RSS {by_role['tree']:.0f} MiB ({parts})")

    try:
        producer = bench_producer(base.kafka_bootstrap_servers)
        await producer.start()
        start = time.perf_counter()
        next_sample = start
        try:
            for index, r in enumerate(records):
                due = start + index / args.rate
                now = time.perf_counter()
                if now >= next_sample:
                    worker.check_alive()
                    sample(now - start, index)
                    next_sample += args.every
                if due - now > 0.002:
                    await asyncio.sleep(due - now)
                await producer.send(
                    names.raw_topic, r.value, key=r.key, timestamp_ms=r.timestamp_ms
                )
        finally:
            await producer.stop()
        sample(time.perf_counter() - start, total)
        _, peak_kib = memory_kib(worker.pid)
    finally:
        await cleanup(base, names, worker, conn)
    warm_up_s = (args.warm_up * 60) if args.warm_up is not None else samples[-1][0] / 2
    print(
        f"steady run: {args.minutes} min at {args.rate:,.0f} events/s ({total:,} events); "
        f"slope after a warm-up of {warm_up_s / 60:.1f} min"
    )
    for role in ("tree", *PROCESS_ROLES, "other"):
        series = [(t, by_role[role]) for t, by_role in samples if role in by_role]
        if not series:
            continue
        settled = [point for point in series if point[0] >= warm_up_s]
        peak = (
            f"peak (VmHWM) {peak_kib / 1024:.0f}"
            if role == "tree"
            else (f"peak sample {max(mib for _, mib in series):.0f}")
        )
        print(
            f"{role:>8}: first {series[0][1]:.0f} MiB, at warm-up end "
            f"{settled[0][1] if settled else float('nan'):.0f}, last {series[-1][1]:.0f}, "
            f"{peak}; slope after warm-up {slope_mib_per_min(settled):+.1f} MiB/min"
        )


def worker_env(args: argparse.Namespace) -> dict[str, str]:
    """``--worker-env NAME=VALUE`` options (settings for an experiment; default: none)."""
    return dict(item.split("=", 1) for item in args.worker_env)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    modes = parser.add_subparsers(dest="mode", required=True)
    one = modes.add_parser("sessions", help="memory per open session")
    one.add_argument("--sessions", type=int, default=100_000)
    two = modes.add_parser("steady", help="RSS over a rate-limited steady run")
    two.add_argument("--minutes", type=float, default=10.0)
    two.add_argument("--rate", type=float, default=1000.0, help="events/s (default 1000)")
    two.add_argument("--every", type=float, default=10.0, help="seconds between samples")
    two.add_argument(
        "--warm-up",
        type=float,
        default=None,
        metavar="MINUTES",
        help="minutes left out of the slope (default: the first half of the run)",
    )
    for mode in (one, two):
        mode.add_argument(
            "--worker-env",
            action="append",
            default=[],
            metavar="NAME=VALUE",
            help="extra environment of the worker, e.g. "
            "SESSIONIZER_WORKER_STATE_CACHE_SIZE=2000 (default none)",
        )
    args = parser.parse_args()
    asyncio.run(per_session(args) if args.mode == "sessions" else steady(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
