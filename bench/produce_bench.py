"""Events per second sent by ``sessionizer produce`` from a JSON Lines file.

A file of ``--events`` valid raw events (default 200,000; page views, interactions, feature
uses, LLM calls over 5,000 sessions, a third with ``received_at``) is written once; each run
sends it to a fresh topic with the same code path as ``sessionizer produce`` (read, validate,
send with acks=all and idempotence, wait for every ack) and prints its rate; the median of
``--runs`` runs ends the output. Topic creation is outside the timed part.

    .venv/bin/python bench/produce_bench.py [--events 200000] [--runs 3]

Uses KAFKA_BOOTSTRAP_SERVERS (default: the local stack) and SESSIONIZER_* settings (linger,
batch size, partitions); the topics it creates are deleted afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from aiokafka.admin import AIOKafkaAdminClient

from ingest.jsonl_import import import_jsonl, read_lines
from ingest.kafka_producer import KafkaRecordSender
from ingest.kafka_topics import ensure_topics
from sessionizer.settings import Settings

START = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)


def _time(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def bench_event(rng: random.Random, number: int, sessions: int) -> dict[str, object]:
    """One valid raw event; the mix of types loosely follows a real app's."""
    moment = START + timedelta(milliseconds=250 * number)
    event: dict[str, object] = {
        "event_id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
        "session_id": f"bench-session-{rng.randrange(sessions):05d}",
        "ts": _time(moment),
        "path": f"/app/page/{rng.randrange(40)}",
    }
    draw = rng.random()
    if draw < 0.45:
        event["type"] = "page_view"
    elif draw < 0.75:
        event.update(type="interaction", name=f"button_{rng.randrange(12)}")
    elif draw < 0.9:
        event.update(type="feature_use", name=f"feature_{rng.randrange(6)}")
    else:
        event.update(
            type="llm_usage",
            model="model-a",
            tokens=rng.randrange(50, 4000),
            cost=round(rng.random() / 50, 6),
            response_ms=rng.randrange(200, 9000),
        )
    if number % 3 == 0:
        event["received_at"] = _time(moment + timedelta(milliseconds=80))
        event["sent_at"] = _time(moment + timedelta(milliseconds=20))
    return event


def write_events(path: Path, count: int, sessions: int = 5_000, seed: int = 7) -> None:
    rng = random.Random(seed)
    with path.open("w", encoding="utf-8") as out:
        for number in range(count):
            out.write(json.dumps(bench_event(rng, number, sessions), ensure_ascii=False))
            out.write("\n")


async def one_run(settings: Settings, path: Path) -> tuple[float, int]:
    topic = f"bench-produce-{uuid.uuid4().hex[:10]}"
    await ensure_topics(settings, {topic: None})
    try:
        async with KafkaRecordSender(settings) as sender:
            with path.open("rb") as stream:
                started = time.perf_counter()
                result = await import_jsonl(read_lines(stream), sender, topic)
                elapsed = time.perf_counter() - started
        if result.error is not None:
            raise SystemExit(f"produce failed: {result.error}")
        return result.progress.sent / elapsed, result.progress.sent
    finally:
        admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap_servers)
        await admin.start()
        try:
            await admin.delete_topics([topic])
        finally:
            await admin.close()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    settings = Settings()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "events.jsonl"
        write_events(path, args.events)
        size_mb = path.stat().st_size / 1e6
        print(
            f"produce: {args.events} events ({size_mb:.1f} MB) to {settings.topic_partitions} "
            f"partitions, linger {settings.producer_linger_ms} ms, batch "
            f"{settings.producer_max_batch_size} B, acks=all, idempotent"
        )
        rates = []
        for run in range(1, args.runs + 1):
            rate, sent = await one_run(settings, path)
            rates.append(rate)
            print(f"  run {run}: {sent} events, {rate:,.0f} events/s")
        print(f"produce median: {statistics.median(rates):,.0f} events/s over {args.runs} runs")


if __name__ == "__main__":
    asyncio.run(main())
