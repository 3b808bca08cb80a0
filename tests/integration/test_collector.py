"""The HTTP collector in-process (aiohttp test server, ephemeral port) against the real broker."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest_asyncio
from aiohttp.test_utils import TestClient, TestServer

from ingest.accepted_event import AcceptedEvent
from ingest.collector_app import create_collector_app
from ingest.validation import validate_record
from sessionizer.settings import Settings
from tests.integration.ingest_test_support import page_view, read_topic, rfc3339_ms


@pytest_asyncio.fixture(loop_scope="session")
async def client(test_settings: Settings) -> AsyncIterator[TestClient[Any, Any]]:
    async with TestClient(TestServer(create_collector_app(test_settings))) as client:
        yield client


async def raw_records(settings: Settings) -> list[Any]:
    return await read_topic(settings.kafka_bootstrap_servers, settings.raw_topic)


async def test_mixed_batch_produces_the_valid_events_stamped(
    client: TestClient[Any, Any], test_settings: Settings
) -> None:
    a1 = page_view("sess-a", "2026-11-25T10:00:00.000Z", "/a", sent_at="2026-11-25T10:00:01Z")
    a2 = page_view("sess-a", "2026-11-25T10:00:05.000Z", "/b", received_at="1999-01-01T00:00:00Z")
    b1: dict[str, Any] = {
        "event_id": "6F1C2B8E-1B7A-4A53-9A53-4D3B9B1F0A01",
        "session_id": "sess-ß",
        "type": "llm_usage",
        "ts": "2026-11-25T10:00:02+02:00",
        "model": "m",
        "tokens": 10,
        "cost": 0.0015,
        "unknown_field": [1, 2],
    }
    no_path = page_view("sess-c", "2026-11-25T10:00:00Z", "/x")
    del no_path["path"]
    bad_time = page_view("sess-c", "2026-11-25", "/x")
    batch = [a1, no_path, a2, 42, b1, bad_time]

    before = time.time_ns() // 1_000_000
    response = await client.post("/v1/events", json=batch)
    after = time.time_ns() // 1_000_000

    assert response.status == 200
    body = await response.json()
    assert body["accepted"] == 3
    assert [(r["index"], r["reason"]) for r in body["rejected"]] == [
        (1, "invalid_event"),
        (3, "bad_json"),
        (5, "bad_timestamp"),
    ]
    assert all(r["message"] for r in body["rejected"])
    records = await raw_records(test_settings)
    assert len(records) == 3
    produced = {json.loads(r.value)["event_id"]: r for r in records}
    assert set(produced) == {a1["event_id"], a2["event_id"], b1["event_id"]}
    stamps = set()
    for sent in (a1, a2, b1):
        record = produced[sent["event_id"]]
        value = json.loads(record.value)
        stamp = value.pop("received_at")
        stamps.add(stamp)
        assert before <= rfc3339_ms(stamp) <= after
        assert stamp.endswith("Z") and len(stamp) == len("2026-11-25T10:00:00.000Z")
        assert record.timestamp_ms == rfc3339_ms(stamp)
        assert value == {k: v for k, v in sent.items() if k != "received_at"}
        assert record.key == sent["session_id"].encode("utf-8")
        # the bytes on the topic are the bytes that were validated
        assert isinstance(
            validate_record(record.value, key=record.key, check_key=True), AcceptedEvent
        )
    assert len(stamps) == 1  # one request, one received_at
    a_partitions = {produced[e["event_id"]].partition for e in (a1, a2)}
    assert len(a_partitions) == 1
    a_offsets = [produced[e["event_id"]].offset for e in (a1, a2)]
    assert a_offsets == sorted(a_offsets)


async def test_one_event_as_text_plain_like_send_beacon(
    client: TestClient[Any, Any], test_settings: Settings
) -> None:
    event = page_view("beacon", "2026-11-25T10:00:00Z", "/b")
    response = await client.post(
        "/v1/events",
        data=json.dumps(event).encode(),
        headers={"Content-Type": "text/plain;charset=UTF-8"},
    )
    assert response.status == 200
    assert await response.json() == {"accepted": 1, "rejected": []}
    records = await raw_records(test_settings)
    assert [json.loads(r.value)["event_id"] for r in records] == [event["event_id"]]


async def test_refused_bodies_send_nothing(
    client: TestClient[Any, Any], test_settings: Settings
) -> None:
    event = page_view("s", "2026-11-25T10:00:00Z", "/")
    too_big = json.dumps([{**event, "metadata": {"pad": "x" * 60_000}}] * 18).encode()
    assert len(too_big) > 1 << 20
    cases = [
        (b"{not json", "application/json", 400, "bad_json"),
        (b"\xff\xfe{}", "application/json", 400, "bad_json"),
        (b'"a string"', "application/json", 400, "bad_json"),
        (too_big, "application/json", 413, "body_too_large"),
        (json.dumps([event] * 501).encode(), "application/json", 413, "too_many_events"),
        (json.dumps(event).encode(), "application/x-www-form-urlencoded", 415, None),
    ]
    for data, media, status, code in cases:
        response = await client.post("/v1/events", data=data, headers={"Content-Type": media})
        assert response.status == status, (data[:40], await response.text())
        body = await response.json()
        assert body["message"]
        if code is not None:
            assert body["error"] == code
    assert await raw_records(test_settings) == []


async def test_bearer_token_when_configured(test_settings: Settings) -> None:
    settings = test_settings.model_copy(update={"collector_token": "s3cret"})
    event = page_view("tok", "2026-11-25T10:00:00Z", "/")
    async with TestClient(TestServer(create_collector_app(settings))) as client:
        missing = await client.post("/v1/events", json=event)
        wrong = await client.post(
            "/v1/events", json=event, headers={"Authorization": "Bearer nope"}
        )
        right = await client.post(
            "/v1/events", json=event, headers={"Authorization": "Bearer s3cret"}
        )
        spec = await (await client.get("/openapi.json")).json()
    assert (missing.status, wrong.status, right.status) == (401, 401, 200)
    assert missing.headers["WWW-Authenticate"] == "Bearer"
    assert "bearer" in spec["components"]["securitySchemes"]
    records = await raw_records(settings)
    assert len(records) == 1


async def test_cors_preflight_for_configured_origins(test_settings: Settings) -> None:
    settings = test_settings.model_copy(update={"collector_cors_origins": ["https://app.example"]})
    preflight = {"Access-Control-Request-Method": "POST"}
    async with TestClient(TestServer(create_collector_app(settings))) as client:
        allowed = await client.options(
            "/v1/events", headers={**preflight, "Origin": "https://app.example"}
        )
        refused = await client.options(
            "/v1/events", headers={**preflight, "Origin": "https://evil.example"}
        )
        post = await client.post(
            "/v1/events",
            json=[],
            headers={"Origin": "https://app.example"},
        )
        other = await client.post("/v1/events", json=[], headers={"Origin": "https://x.example"})
    assert allowed.status == 204
    assert allowed.headers["Access-Control-Allow-Origin"] == "https://app.example"
    assert "POST" in allowed.headers["Access-Control-Allow-Methods"]
    assert "Authorization" in allowed.headers["Access-Control-Allow-Headers"]
    assert refused.status == 403
    assert "Access-Control-Allow-Origin" not in refused.headers
    assert post.status == 200
    assert post.headers["Access-Control-Allow-Origin"] == "https://app.example"
    assert "Access-Control-Allow-Origin" not in other.headers


async def test_healthz_and_openapi(client: TestClient[Any, Any]) -> None:
    health = await client.get("/healthz")
    assert health.status == 200
    assert (await health.json())["kafka"] == "reachable"
    spec = await (await client.get("/openapi.json")).json()
    assert spec["openapi"].startswith("3.")
    post = spec["paths"]["/v1/events"]["post"]
    assert set(post["requestBody"]["content"]) == {"application/json", "text/plain"}
    assert {"200", "400", "413", "503"} <= set(post["responses"])
    assert "/healthz" in spec["paths"]
