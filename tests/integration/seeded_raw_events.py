"""Raw events for the worker tests (not a test module): seeded, bad on purpose, produced.

Seeded sessions with gaps, rotations, duplicates and client skew; one bad record per SPEC 2.4
case; producing them with the SPEC 8 record timestamps, or writing them as a JSONL file.
"""

from __future__ import annotations

import asyncio
import json
import random
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaProducer

MINUTE_MS = 60_000

PATHS = [f"/app/page-{n}" for n in range(80)]
LABELS = ["save", "open", "close", "share", "export", "filter"]
FEATURES = ["search", "chat", "upload", "compare"]
GOALS = ["signup", "purchase", "invite"]
MODELS = ["gpt-x", "claude-y", "mistral-z"]


@dataclass(frozen=True)
class RawRecord:
    """One record to produce: key, value, record timestamp (ms)."""

    key: bytes | None
    value: bytes
    timestamp_ms: int


def iso_ms(epoch_ms: int) -> str:
    moment = datetime.fromtimestamp(epoch_ms / 1000, tz=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{epoch_ms % 1000:03d}Z"


def _event(rng: random.Random, session_id: str, kind: str, path: str | None) -> dict[str, Any]:
    event: dict[str, Any] = {
        "event_id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
        "session_id": session_id,
        "type": kind,
    }
    if path is not None:
        event["path"] = path
    if kind == "interaction":
        event["name"] = rng.choice(LABELS)
    elif kind == "feature_use":
        event["name"] = rng.choice(FEATURES)
    elif kind == "goal":
        event["name"] = rng.choice(GOALS)
    elif kind == "page_load":
        event["page"] = path or "chat_response"
        event["load_ms"] = rng.randint(0, 5000)
    elif kind == "error":
        event["error_type"] = rng.choice(["TypeError", "NetworkError"])
        if rng.random() < 0.5:
            event["message"] = "boom " * rng.randint(1, 5)
    elif kind == "llm_usage":
        event["model"] = rng.choice(MODELS)
        event["tokens"] = rng.randint(1, 5000)
        event["cost"] = round(rng.uniform(0, 0.05), 6)
        if rng.random() < 0.5:
            event["prompt_tokens"] = rng.randint(0, 1000)
            event["stopped"] = rng.random() < 0.1
    elif kind == "context":
        event["metadata"] = {"plan": rng.choice(["free", "pro", None]), "n": rng.randint(0, 9)}
    return event


KINDS = [
    ("page_view", 35),
    ("interaction", 20),
    ("feature_use", 8),
    ("page_load", 8),
    ("error", 5),
    ("llm_usage", 12),
    ("context", 4),
    ("goal", 3),
]


def generate_events(
    seed: int, *, sessions: int, events_per_session: int, start_ms: int
) -> list[RawRecord]:
    """Seeded sessions, interleaved in time order; keys are session ids.

    Some sessions pause longer than the default GAP (30 min), some see over 50 paths (batch
    rotation), about 2% of events are sent twice (duplicates), times carry client skew
    (``sent_at``) and collector times (``received_at``) on part of the events.
    """
    rng = random.Random(seed)
    kinds = [k for k, w in KINDS for _ in range(w)]
    timeline: list[tuple[int, int, RawRecord]] = []
    order = 0
    for index in range(sessions):
        session_id = f"s{seed}-{index:04d}-{uuid.UUID(int=rng.getrandbits(128)).hex[:8]}"
        now = start_ms + rng.randint(0, 20 * MINUTE_MS)
        user = str(uuid.UUID(int=rng.getrandbits(128), version=4)) if rng.random() < 0.6 else None
        skew = rng.choice([0, 0, 120_000, -90_000])
        many_paths = rng.random() < 0.1
        count = rng.randint(events_per_session // 2, events_per_session * 3 // 2)
        previous: RawRecord | None = None
        for n in range(count):
            now += rng.randint(200, 20_000)
            if rng.random() < 0.01:
                now += 31 * MINUTE_MS  # longer than GAP: the batch closes
            kind = "page_view" if many_paths and rng.random() < 0.7 else rng.choice(kinds)
            if n == count - 1 and rng.random() < 0.3:
                kind = "session_end"
            path = rng.choice(PATHS) if kind == "page_view" or rng.random() < 0.3 else None
            event = _event(rng, session_id, kind, path)
            if user is not None and rng.random() < 0.3:
                event["user_id"] = user
            client_ms = now + skew
            event["ts"] = iso_ms(client_ms)
            timestamp = client_ms
            if rng.random() < 0.5:
                event["sent_at"] = iso_ms(client_ms + 150)
                event["received_at"] = iso_ms(now + 180)
                timestamp = now + 180
            record = RawRecord(
                session_id.encode(), json.dumps(event, separators=(",", ":")).encode(), timestamp
            )
            timeline.append((now, order, record))
            order += 1
            if previous is not None and rng.random() < 0.02:
                timeline.append((now + 1, order, previous))  # the same event again
                order += 1
            previous = record
    timeline.sort(key=lambda item: (item[0], item[1]))
    return [record for _, _, record in timeline]


def bad_records(start_ms: int) -> list[tuple[RawRecord, str]]:
    """One record per SPEC 2.4 case, with the reason the worker must give."""

    def valid(session_id: str, **extra: Any) -> dict[str, Any]:
        event = {
            "event_id": str(uuid.uuid4()),
            "session_id": session_id,
            "type": "page_view",
            "path": "/bad",
            "ts": iso_ms(start_ms),
        }
        event.update(extra)
        return event

    def rec(value: bytes, key: bytes | None = b"bad-session") -> RawRecord:
        return RawRecord(key, value, start_ms)

    def js(event: dict[str, Any]) -> bytes:
        return json.dumps(event).encode()

    deep: Any = 1
    for _ in range(40):
        deep = [deep]
    return [
        (rec(js(valid("bad-session", pad="x" * 70_000))), "too_large"),
        (rec(b"\xef\xbb\xbf" + js(valid("bad-session"))), "bad_json"),
        (rec(b"{not json"), "bad_json"),
        (rec(b"[1, 2, 3]"), "bad_json"),
        (rec(js(valid("bad-session", metadata={"d": deep}))), "bad_json"),
        (rec(b'{"event_id": NaN}'), "bad_json"),
        (rec(b'{"x": 1e400}'), "bad_json"),
        (rec(b'{"x": 99999999999999999999}'), "bad_json"),
        (rec(b"\xff\xfe not utf-8"), "bad_json"),
        (
            rec(js({k: v for k, v in valid("bad-session").items() if k != "event_id"})),
            "invalid_event",
        ),
        (rec(js(valid("bad-session", type="teleport"))), "invalid_event"),
        (rec(js(valid("bad-session", ts=1732530000))), "bad_timestamp"),
        (rec(js(valid("bad-session", ts="2026-11-25"))), "bad_timestamp"),
        (rec(js(valid("bad-session", ts="2026-11-25T10:00:00"))), "bad_timestamp"),
        (rec(js(valid("bad-session", ts="2026-11-25T10:00:60Z"))), "bad_timestamp"),
        (rec(js(valid("bad-session", ts="1999-12-31T23:59:59Z"))), "bad_timestamp"),
        (rec(js(valid("bad-session")), key=None), "key_mismatch"),
        (rec(js(valid("bad-session")), key=b"another-session"), "key_mismatch"),
    ]


async def produce(bootstrap: str, topic: str, records: Iterable[RawRecord]) -> None:
    """Produce in order (idempotent producer: order kept per partition), wait for all acks."""
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap,
        acks="all",
        enable_idempotence=True,
        linger_ms=5,
        max_request_size=1_048_576,
    )
    await producer.start()
    try:
        acks = [
            await producer.send(topic, r.value, key=r.key, timestamp_ms=r.timestamp_ms)
            for r in records
        ]
        await asyncio.gather(*acks)
    finally:
        await producer.stop()


def write_jsonl(path: Path, records: Iterable[RawRecord]) -> None:
    with path.open("wb") as out:
        for record in records:
            out.write(record.value + b"\n")
