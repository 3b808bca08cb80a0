"""Raw events per second folded by `sessionizer worker`, for several micro-batch sizes.

For each batch size: N seeded events (the worker tests' generator) are produced to a fresh raw
topic first, then one worker subprocess is started; the rate is taken from its /metrics page,
between the first scrape that shows processed events and the one that shows all of them.
Table writes per event show what micro-batching saves (one changelog record per touched
session per batch instead of one per event).

    .venv/bin/python bench/worker_bench.py [--sizes 100,500,2000] [--sessions 500]
        [--events-per-session 44] [--store rocksdb://]

Uses KAFKA_BOOTSTRAP_SERVERS (default: the local stack); topics are named bench-worker-<hex>
and deleted afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from sessionizer.settings import Settings
from tests.integration.seeded_raw_events import generate_events, produce
from tests.integration.worker_subprocess import WorkerProcess, scrape_metric

PARTITIONS = 6


async def run_one(base: Settings, batch: int, args: argparse.Namespace) -> tuple[float, float]:
    token = uuid.uuid4().hex[:10]
    settings = base.model_copy(
        update={
            "raw_topic": f"bench-worker-raw-{token}",
            "sessions_topic": f"bench-worker-sessions-{token}",
            "dlq_topic": f"bench-worker-dlq-{token}",
            "worker_app_id": f"bench-worker-{token}",
            "topic_partitions": PARTITIONS,
            "worker_batch_size": batch,
            "worker_session_timeout_s": 10.0,
        }
    )
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap_servers)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(settings.raw_topic, PARTITIONS, 1)])
        await asyncio.sleep(1.0)
        start_ms = int(time.time() * 1000) - 3 * 3_600_000
        events = generate_events(
            7, sessions=args.sessions, events_per_session=args.events_per_session, start_ms=start_ms
        )
        await produce(settings.kafka_bootstrap_servers, settings.raw_topic, events)
        with tempfile.TemporaryDirectory() as folder:
            worker = WorkerProcess(settings, Path(folder), "worker", store=args.store)
            worker.start()
            try:
                first_at = first_count = None
                while True:
                    count = await scrape_metric(worker, "sessionizer_worker_events_total") or 0
                    now = time.perf_counter()
                    if count and first_at is None:
                        first_at, first_count = now, count
                    if count >= len(events):
                        break
                    if not worker.alive():
                        raise RuntimeError(worker.log_tail())
                    await asyncio.sleep(0.05)
                writes = await scrape_metric(worker, "sessionizer_worker_table_writes_total") or 0
            finally:
                worker.stop()
        assert first_at is not None and first_count is not None
        rate = (len(events) - first_count) / max(now - first_at, 1e-9)
        return rate, writes / len(events)
    finally:
        names = [n for n in await admin.list_topics() if token in n]
        if names:
            await admin.delete_topics(names)
        await admin.close()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100,500,2000")
    parser.add_argument("--sessions", type=int, default=500)
    parser.add_argument("--events-per-session", type=int, default=44)
    parser.add_argument("--store", default="rocksdb://")
    args = parser.parse_args()
    base = Settings()
    print(f"{'batch':>6} {'events/s':>10} {'table writes/event':>20}")
    for size in (int(s) for s in args.sizes.split(",")):
        rate, writes_per_event = await run_one(base, size, args)
        print(f"{size:>6} {rate:>10.0f} {writes_per_event:>20.3f}", flush=True)


if __name__ == "__main__":
    asyncio.run(main())
