"""End-to-end benchmark: the ceilings, the pipeline, and goal latency, on the local stack.

    .venv/bin/python bench/e2e.py [--events 1000000] [--partitions 6] [--runs 3]
        [--workers 1] [--json bench/results/e2e.json] [--quick] [--skip-latency]

Pre-loads N simulated events (cached under .dev/bench/) into a fresh raw topic, then, per run:

* ceiling: one plain aiokafka consumer (getmany, no decoding) reads the whole topic;
* ceiling with decoding: the same plus ``validate_record`` (JSON decoding and validation);
* pipeline: ``sessionizer worker`` (fold, session stream, sink in its child process, RocksDB store,
  default settings but the names) from offset 0 until every event is folded and the table
  equals the offline fold (row count and sum of versions); events/s, worker CPU s per million
  events, peak RSS (VmHWM), Postgres rows written per event (n_tup_ins + n_tup_upd),
  changelog and session-stream messages per event; ``--workers N`` runs N workers in one
  consumer group (one per core, as one deploys them), their figures summed;
* latency: fresh traffic sent on a schedule at 25/50/75 % of the median pipeline rate; for each
  goal event, the time from its scheduled send time to its row showing it in Postgres.

Every figure is the median of ``--runs`` runs, with min and max. Topics, consumer groups and
schemas are named after a random token and removed afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.e2e_data import (
    Record,
    create_topic,
    delete_topics_with,
    fold,
    load_events,
    produce_all,
    simulate,
)
from bench.e2e_runs import LatencyResult, PipelineResult, read_topic_rate, run_latency, run_pipeline
from bench.e2e_worker import RunNames
from sessionizer.settings import PROJECT_ROOT, Settings

LATENCY_SHARES = (0.25, 0.50, 0.75)
LATENCY_SEED = 4242


def say(text: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)


def spread(values: Sequence[float]) -> dict[str, float]:
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}


def worker_env(args: argparse.Namespace) -> dict[str, str]:
    """``--worker-env NAME=VALUE`` options (settings for an experiment; default: none)."""
    pairs = [item.split("=", 1) for item in args.worker_env]
    return {name: value for name, value in pairs}


def warmup_record() -> Record:
    session = f"bench-warmup-{uuid.uuid4().hex[:8]}"
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    event = {"event_id": str(uuid.uuid4()), "session_id": session, "type": "goal",
             "name": "ready", "ts": now}
    return Record(session.encode(), json.dumps(event).encode(), int(time.time() * 1000))


async def measure(args: argparse.Namespace) -> dict[str, Any]:
    base = Settings()
    bootstrap = base.kafka_bootstrap_servers
    records, expected = load_events(args.events, args.seed, base.gap_ms, say)
    token = uuid.uuid4().hex[:8]
    raw_topic = f"bench-e2e-raw-{token}"
    results: dict[str, Any] = {"runs": []}
    try:
        await create_topic(bootstrap, raw_topic, args.partitions)
        rate = await produce_all(bootstrap, raw_topic, records)
        say(f"pre-loaded {len(records):,} events into {raw_topic} ({rate:,.0f} events/s)")
        del records
        for run in range(1, args.runs + 1):
            plain = await read_topic_rate(bootstrap, raw_topic, args.events, decode=False)
            say(f"run {run}: ceiling {plain:,.0f} events/s")
            decoded = await read_topic_rate(bootstrap, raw_topic, args.events, decode=True)
            say(f"run {run}: ceiling with decoding {decoded:,.0f} events/s")
            names = RunNames(f"{token}r{run}", raw_topic)
            pipeline = await run_pipeline(
                base, names, expected, args.events, partitions=args.partitions, say=say,
                timeout_s=args.timeout,
                profile=None if args.profile is None else args.profile / f"worker-run{run}.txt",
                worker_env=worker_env(args), workers=args.workers,
            )
            say(f"run {run}: pipeline {pipeline}")
            results["runs"].append(
                {"ceiling": plain, "ceiling_decoding": decoded, "pipeline": asdict(pipeline)}
            )
    finally:
        await delete_topics_with(bootstrap, token)
    runs = results["runs"]
    pipeline_rate = statistics.median(r["pipeline"]["events_per_s"] for r in runs)
    if not args.skip_latency:
        results["latency"] = await measure_latency(args, base, token, pipeline_rate)
    return results


async def measure_latency(
    args: argparse.Namespace, base: Settings, token: str, pipeline_rate: float
) -> list[dict[str, Any]]:
    bootstrap = base.kafka_bootstrap_servers
    out: list[dict[str, Any]] = []
    for share in LATENCY_SHARES:
        rate = share * pipeline_rate
        count = int(rate * args.latency_seconds)
        traffic = simulate(count, LATENCY_SEED)
        _, goals = fold(traffic, base.gap_ms)
        found: list[LatencyResult] = []
        for run in range(1, args.runs + 1):
            run_token = f"{token}l{int(share * 100)}r{run}"
            names = RunNames(run_token, f"bench-e2e-lraw-{run_token}")
            try:
                await create_topic(bootstrap, names.raw_topic, args.partitions)
                result = await run_latency(
                    base, names, traffic, goals, warmup_record(), rate,
                    partitions=args.partitions, poll_s=args.poll_ms / 1000, say=say,
                    worker_env=worker_env(args), workers=args.workers,
                )
            finally:
                await delete_topics_with(bootstrap, names.token)
            say(f"latency at {share:.0%} ({rate:,.0f}/s) run {run}: {result}")
            found.append(result)
        out.append({"share": share, "runs": [asdict(r) for r in found]})
    return out


def summarize(results: dict[str, Any]) -> dict[str, Any]:
    runs = results["runs"]
    pipe: list[dict[str, float]] = [r["pipeline"] for r in runs]
    summary: dict[str, Any] = {
        "ceiling": spread([r["ceiling"] for r in runs]),
        "ceiling_decoding": spread([r["ceiling_decoding"] for r in runs]),
    }
    for name in PipelineResult.__dataclass_fields__:
        summary[f"pipeline_{name}"] = spread([p[name] for p in pipe])
    summary["ratio_vs_ceiling_decoding"] = spread(
        [r["pipeline"]["events_per_s"] / r["ceiling_decoding"] for r in runs]
    )
    for entry in results.get("latency", []):
        label = f"{entry['share']:.0%}"
        for name in ("rate", "achieved_rate", "goals", "p50_ms", "p99_ms", "max_ms"):
            summary[f"latency_{label}_{name}"] = spread([r[name] for r in entry["runs"]])
    return summary


ROWS: tuple[tuple[str, str, Callable[[float], str]], ...] = (
    ("ceiling", "ceiling: plain consumer, events/s", lambda v: f"{v:,.0f}"),
    ("ceiling_decoding", "ceiling with decoding + validation, events/s", lambda v: f"{v:,.0f}"),
    ("pipeline_events_per_s", "pipeline, events/s", lambda v: f"{v:,.0f}"),
    ("ratio_vs_ceiling_decoding", "pipeline / ceiling with decoding", lambda v: f"{v:.2f}"),
    ("pipeline_seconds", "pipeline, s (first event .. table complete)", lambda v: f"{v:.1f}"),
    ("pipeline_lag_zero_s", "  of which until every event folded, s", lambda v: f"{v:.1f}"),
    ("pipeline_startup_s", "worker start until first event, s", lambda v: f"{v:.1f}"),
    ("pipeline_cpu_s_per_million", "worker CPU s per million events", lambda v: f"{v:.0f}"),
    ("pipeline_peak_rss_mib", "worker peak RSS, MiB", lambda v: f"{v:.0f}"),
    ("pipeline_rows_per_event", "Postgres rows written per event", lambda v: f"{v:.3f}"),
    ("pipeline_changelog_per_event", "changelog messages per event", lambda v: f"{v:.3f}"),
    ("pipeline_snapshots_per_event", "session-stream messages per event", lambda v: f"{v:.3f}"),
)


def table(summary: dict[str, Any], runs: int) -> str:
    lines = [f"| figure (median of {runs} runs) | median | min | max |",
             "| --- | ---: | ---: | ---: |"]
    rows = list(ROWS)
    for share in LATENCY_SHARES:
        label = f"{share:.0%}"
        if f"latency_{label}_p50_ms" not in summary:
            continue
        rows += [
            (f"latency_{label}_achieved_rate", f"latency at {label}: events/s sent",
             lambda v: f"{v:,.0f}"),
            (f"latency_{label}_goals", f"latency at {label}: goal rows timed",
             lambda v: f"{v:,.0f}"),
            (f"latency_{label}_p50_ms", f"latency at {label}: p50, ms", lambda v: f"{v:,.0f}"),
            (f"latency_{label}_p99_ms", f"latency at {label}: p99, ms", lambda v: f"{v:,.0f}"),
        ]
    for key, label, fmt in rows:
        s = summary[key]
        lines.append(f"| {label} | {fmt(s['median'])} | {fmt(s['min'])} | {fmt(s['max'])} |")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--partitions", type=int, default=6)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--latency-seconds", type=float, default=30.0,
                        help="seconds of scheduled traffic per latency run (default 30)")
    parser.add_argument("--poll-ms", type=float, default=20.0,
                        help="Postgres polling interval of the latency runs (default 20 ms)")
    parser.add_argument("--timeout", type=float, default=1800.0)
    parser.add_argument("--skip-latency", action="store_true")
    parser.add_argument("--workers", type=int, default=1,
                        help="worker processes in the pipeline runs (default 1)")
    parser.add_argument("--profile", type=Path, metavar="DIR",
                        help="record the worker of each pipeline run with py-spy (collapsed "
                        "stacks in DIR/worker-run<N>.txt; with --workers N, the first worker; "
                        "py-spy must be on PATH)")
    parser.add_argument("--worker-env", action="append", default=[], metavar="NAME=VALUE",
                        help="extra environment of the worker, e.g. "
                        "SESSIONIZER_WORKER_BATCH_SIZE=5000 (experiments; default none)")
    parser.add_argument("--quick", action="store_true",
                        help="smoke run: 50,000 events, 1 run, 10 s latency runs")
    parser.add_argument("--json", type=Path,
                        default=PROJECT_ROOT / "bench" / "results" / "e2e.json")
    args = parser.parse_args()
    if args.quick:
        args.events, args.runs, args.latency_seconds = 50_000, 1, 10.0
    started = time.monotonic()
    results = asyncio.run(measure(args))
    summary = summarize(results)
    results["summary"] = summary
    results["settings"] = {
        k: v for k, v in vars(args).items() if k not in ("json", "profile")
    }
    results["finished"] = datetime.now(UTC).isoformat(timespec="seconds")
    results["seconds"] = round(time.monotonic() - started)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(results, indent=2))
    print(table(summary, args.runs))
    print(f"\n{args.events:,} events over {args.partitions} partitions; JSON in {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
