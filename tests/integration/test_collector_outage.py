"""The collector while Kafka is down, on a private broker (the shared one is never stopped)."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from pathlib import Path
from typing import Any

from aiohttp.test_utils import TestClient, TestServer

from ingest.collector_app import create_collector_app
from sessionizer.settings import Settings
from tests.integration.ingest_test_support import page_view, private_broker, read_topic


async def test_broker_down_503_nothing_half_sent_then_retry_lands_once(
    test_settings: Settings, tmp_path: Path
) -> None:
    async with private_broker(test_settings, tmp_path / "kafka") as broker:
        settings = broker.settings
        bootstrap = settings.kafka_bootstrap_servers
        first = [page_view(f"s{i % 7}", "2026-11-25T10:00:00Z", f"/{i}") for i in range(100)]
        second = [page_view(f"s{i % 7}", "2026-11-25T10:01:00Z", f"/{i}") for i in range(100)]
        answers: Counter[str] = Counter()
        app = create_collector_app(settings)
        async with TestClient(TestServer(app)) as client:
            response = await client.post("/v1/events", json=first)
            assert response.status == 200
            answers["first"] += 1

            await broker.stop()
            down = await client.post("/v1/events", json=second)
            assert down.status == 503
            assert int(down.headers["Retry-After"]) > 0
            assert (await down.json())["error"] == "kafka_unavailable"
            health = await client.get("/healthz")
            assert health.status == 503

            await broker.start()
            # The first retries after the restart may still find the broker not ready: the
            # client retries the same batch until it gets an answer, as a client would.
            status = 0
            async with asyncio.timeout(120):
                while status != 200:
                    retry = await client.post("/v1/events", json=second)
                    status = retry.status
                    if status == 200:
                        answers["second"] += 1
                        assert (await retry.json())["accepted"] == len(second)
                    else:
                        assert status == 503
                        await asyncio.sleep(1)
            assert (await client.get("/healthz")).status == 200

        records = await read_topic(bootstrap, settings.raw_topic)
        counts = Counter(json.loads(r.value)["event_id"] for r in records)
        for event in first:
            assert counts[event["event_id"]] == answers["first"]
        for event in second:
            assert counts[event["event_id"]] == answers["second"]
        assert sum(counts.values()) == len(first) + len(second)


async def test_collector_starts_while_kafka_is_down_and_serves_once_it_is_up(
    test_settings: Settings, tmp_path: Path
) -> None:
    async with private_broker(test_settings, tmp_path / "kafka") as broker:
        settings = broker.settings
        await broker.stop()
        event: dict[str, Any] = page_view("late", "2026-11-25T10:00:00Z", "/")
        app = create_collector_app(settings, connect_wait_s=1.0)
        async with TestClient(TestServer(app)) as client:
            down = await client.post("/v1/events", json=event)
            assert down.status == 503
            # rejected-only batches need no Kafka: the answer lists them
            only_bad = await client.post("/v1/events", json=[1])
            assert only_bad.status == 200
            assert (await only_bad.json())["rejected"][0]["reason"] == "bad_json"

            await broker.start()
            status = 0
            async with asyncio.timeout(120):
                while status != 200:
                    status = (await client.post("/v1/events", json=event)).status
                    if status != 200:
                        assert status == 503
                        await asyncio.sleep(1)
        records = await read_topic(settings.kafka_bootstrap_servers, settings.raw_topic)
        assert [json.loads(r.value)["event_id"] for r in records] == [event["event_id"]]
