"""Events per second accepted by the HTTP collector under concurrent load.

Each run starts ``sessionizer collect`` (a separate process, on a free port, with a fresh raw
topic), then ``--concurrency`` clients post requests of ``--batch`` events (default 100) until
``--events`` events (default 100,000) were accepted; every answer must be 200 with all events
accepted (the collector answers after Kafka acknowledged them, acks=all). The rate is events
accepted per second of the load phase; the median of ``--runs`` runs ends the output, with the
median request latency.

    .venv/bin/python bench/collector_bench.py [--events 100000] [--batch 100]
        [--concurrency 16] [--runs 3]

Uses KAFKA_BOOTSTRAP_SERVERS (default: the local stack) and SESSIONIZER_* settings; the topics
it creates are deleted afterwards. Client and server share the machine's cores.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import socket
import statistics
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import aiohttp
from aiokafka.admin import AIOKafkaAdminClient

from bench.produce_bench import bench_event
from sessionizer.settings import PROJECT_ROOT, Settings


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def request_bodies(count: int, batch: int, seed: int) -> list[bytes]:
    rng = random.Random(seed)
    bodies = []
    for start in range(0, count, batch):
        events = [bench_event(rng, n, 5_000) for n in range(start, min(start + batch, count))]
        for event in events:  # the collector stamps received_at itself
            event.pop("received_at", None)
        bodies.append(json.dumps(events).encode())
    return bodies


async def start_collector(settings: Settings, topic: str, port: int) -> asyncio.subprocess.Process:
    env = {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": settings.kafka_bootstrap_servers,
        "SESSIONIZER_RAW_TOPIC": topic,
        "SESSIONIZER_LOG_LEVEL": "WARNING",
    }
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "sessionizer.cli",
        "collect",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        cwd=PROJECT_ROOT,
        env=env,
    )
    async with aiohttp.ClientSession() as session:
        for _ in range(300):
            try:
                async with session.get(f"http://127.0.0.1:{port}/healthz") as response:
                    if response.status == 200:
                        return proc
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.1)
    proc.terminate()
    raise SystemExit("the collector did not become healthy")


async def load(port: int, bodies: list[bytes], concurrency: int) -> tuple[float, list[float]]:
    queue = list(reversed(bodies))
    latencies: list[float] = []
    accepted = 0
    url = f"http://127.0.0.1:{port}/v1/events"
    headers = {"Content-Type": "application/json"}

    async def client(session: aiohttp.ClientSession) -> None:
        nonlocal accepted
        while queue:
            body = queue.pop()
            sent = time.perf_counter()
            async with session.post(url, data=body, headers=headers) as response:
                answer = await response.json()
                if response.status != 200 or answer["rejected"]:
                    raise SystemExit(f"unexpected answer {response.status}: {answer}")
                accepted += answer["accepted"]
            latencies.append(time.perf_counter() - sent)

    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:
        started = time.perf_counter()
        await asyncio.gather(*(client(session) for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    return accepted / elapsed, latencies


async def one_run(settings: Settings, bodies: list[bytes], concurrency: int) -> tuple[float, float]:
    topic = f"bench-collect-{uuid.uuid4().hex[:10]}"
    port = free_port()
    proc = await start_collector(settings, topic, port)
    try:
        rate, latencies = await load(port, bodies, concurrency)
    finally:
        proc.terminate()
        await proc.wait()
        admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap_servers)
        await admin.start()
        try:
            await admin.delete_topics([topic])
        finally:
            await admin.close()
    return rate, statistics.median(latencies)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    settings = Settings()
    bodies = request_bodies(args.events, args.batch, seed=11)
    print(
        f"collector: {args.events} events in requests of {args.batch}, {args.concurrency} "
        f"concurrent clients, {settings.topic_partitions} partitions, acks=all"
    )
    rates = []
    medians = []
    for run in range(1, args.runs + 1):
        rate, latency = await one_run(settings, bodies, args.concurrency)
        rates.append(rate)
        medians.append(latency)
        print(f"  run {run}: {rate:,.0f} events/s, median request {1000 * latency:.1f} ms")
    print(
        f"collector median: {statistics.median(rates):,.0f} events/s over {args.runs} runs "
        f"(median request {1000 * statistics.median(medians):.1f} ms)"
    )


if __name__ == "__main__":
    asyncio.run(main())
