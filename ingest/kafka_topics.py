"""Create the topics sessionizer needs, and refuse topics whose partition count differs.

``await ensure_topics(settings, {name: partitions})`` creates every missing topic with its
partition count (``None``: ``settings.topic_partitions``) and
``settings.topic_replication_factor``. A topic that already exists with another partition
count raises :class:`~sessionizer.errors.ConfigError` naming it: it is never silently used,
because the partition of a session decides which worker owns its state.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Mapping
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError

from sessionizer.errors import ConfigError, SessionizerError, TransientError
from sessionizer.settings import Settings

log = logging.getLogger(__name__)

ERROR_NONE = 0
ERROR_TOPIC_ALREADY_EXISTS = 36
ERROR_UNKNOWN_TOPIC = 3


def default_topics(settings: Settings) -> dict[str, int | None]:
    """The three topics of SPEC 1, each with the default partition count."""
    return {settings.raw_topic: None, settings.sessions_topic: None, settings.dlq_topic: None}


async def _partition_counts(
    admin: AIOKafkaAdminClient, names: list[str], *, with_leaders: bool = False
) -> dict[str, int]:
    """Partition count of each of ``names`` that exists (a metadata request, no creation).

    ``with_leaders``: count a topic only once every partition has a leader.
    """
    existing = set(await admin.list_topics())
    wanted = [name for name in names if name in existing]
    if not wanted:
        return {}
    counts: dict[str, int] = {}
    described: list[dict[str, Any]] = await admin.describe_topics(wanted)
    for topic in described:
        partitions = topic["partitions"]
        if with_leaders and any(p["leader"] < 0 for p in partitions):
            continue
        if topic["error_code"] == ERROR_NONE:
            counts[topic["topic"]] = len(topic["partitions"])
    return counts


def _check_counts(wanted: Mapping[str, int], counts: Mapping[str, int]) -> None:
    wrong = {
        name: counts[name] for name in wanted if name in counts and counts[name] != wanted[name]
    }
    if wrong:
        details = "; ".join(
            f"{name} has {have} partitions, {wanted[name]} configured"
            for name, have in sorted(wrong.items())
        )
        raise ConfigError(
            f"existing topic(s) with another partition count: {details}. Use another topic "
            "name, or set SESSIONIZER_TOPIC_PARTITIONS to the existing count (a different "
            "count would move sessions between partitions)."
        )


async def ensure_topics(
    settings: Settings,
    topics: Mapping[str, int | None],
    *,
    timeout_s: float = 30.0,
) -> dict[str, int]:
    """Create the missing ``topics``; returns ``{name: partitions}`` of all of them.

    Raises :class:`ConfigError` for an existing topic with another partition count (or a bad
    count), :class:`TransientError` when Kafka cannot be reached within ``timeout_s`` (it is
    tried again with backoff until then).
    """
    wanted: dict[str, int] = {}
    for name, partitions in topics.items():
        count = settings.topic_partitions if partitions is None else partitions
        if count < 1:
            raise ConfigError(f"topic {name}: partition count must be at least 1, not {count}")
        wanted[name] = count
    if not wanted:
        return {}
    deadline = time.monotonic() + timeout_s
    backoff = 0.2
    while True:
        try:
            return await _ensure_once(settings, wanted, max(deadline - time.monotonic(), 0.5))
        except TransientError as exc:
            if time.monotonic() + backoff >= deadline:
                raise
            log.info("%s; retrying in %.1f s", exc, backoff)
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, 5.0)


async def _ensure_once(
    settings: Settings, wanted: dict[str, int], timeout_s: float
) -> dict[str, int]:
    admin = AIOKafkaAdminClient(
        bootstrap_servers=settings.kafka_bootstrap_servers,
        client_id="sessionizer-admin",
        request_timeout_ms=int(timeout_s * 1000),
    )
    try:
        await asyncio.wait_for(admin.start(), timeout_s)
        return await asyncio.wait_for(_ensure(admin, settings, wanted), timeout_s)
    except SessionizerError:
        raise
    except (KafkaError, OSError, TimeoutError) as exc:
        raise TransientError(
            f"Kafka at {settings.kafka_bootstrap_servers} is unreachable, or failed to check or "
            f"create topics: {exc!r}"
        ) from exc
    finally:
        with contextlib.suppress(Exception):
            await admin.close()


async def _ensure(
    admin: AIOKafkaAdminClient, settings: Settings, wanted: dict[str, int]
) -> dict[str, int]:
    counts = await _partition_counts(admin, list(wanted))
    _check_counts(wanted, counts)
    missing = [name for name in wanted if name not in counts]
    if missing:
        new_topics = [
            NewTopic(name, wanted[name], settings.topic_replication_factor) for name in missing
        ]
        response = await admin.create_topics(new_topics)
        for entry in response.topic_errors:
            name, code = entry[0], entry[1]
            message = entry[2] if len(entry) > 2 else None
            if code == ERROR_NONE:
                log.info("created topic %s (%d partitions)", name, wanted[name])
            elif code != ERROR_TOPIC_ALREADY_EXISTS:  # created meanwhile: checked below
                raise ConfigError(f"could not create topic {name}: error {code} {message or ''}")
        counts = await _wait_until_visible(admin, list(wanted))
        _check_counts(wanted, counts)
    return {name: counts[name] for name in wanted}


async def _wait_until_visible(admin: AIOKafkaAdminClient, names: list[str]) -> dict[str, int]:
    """Topics just created may take a moment to appear in the metadata."""
    for _ in range(100):
        counts = await _partition_counts(admin, names, with_leaders=True)
        if all(name in counts for name in names):
            return counts
        await asyncio.sleep(0.1)
    missing = [name for name in names if name not in counts]
    raise TransientError(f"topics not visible after creation: {', '.join(missing)}")
