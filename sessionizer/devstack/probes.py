"""Reachability checks: a Kafka broker answers a metadata request, Postgres accepts a login."""

from __future__ import annotations

import asyncio
import logging

import asyncpg
from aiokafka import AIOKafkaClient

from sessionizer.devstack.processes import tcp_open

logger = logging.getLogger(__name__)


def _first_host_port(bootstrap_servers: str) -> tuple[str, int]:
    first = bootstrap_servers.split(",")[0].strip()
    host, _, port = first.rpartition(":")
    return host or "127.0.0.1", int(port)


async def kafka_answers(bootstrap_servers: str, timeout_s: float = 5.0) -> bool:
    """True when the broker answers a metadata request and lists at least one broker."""
    host, port = _first_host_port(bootstrap_servers)
    if not await tcp_open(host, port, min(timeout_s, 1.0)):
        return False
    client = AIOKafkaClient(bootstrap_servers=bootstrap_servers, request_timeout_ms=5000)
    aiokafka_log = logging.getLogger("aiokafka")
    level = aiokafka_log.level
    aiokafka_log.setLevel(logging.CRITICAL)  # a broker still starting is expected here
    try:
        await asyncio.wait_for(client.bootstrap(), timeout_s)
        return bool(client.cluster.brokers())
    except Exception as exc:  # any failure means "not answering yet"
        logger.debug("kafka %s not answering: %r", bootstrap_servers, exc)
        return False
    finally:
        aiokafka_log.setLevel(level)
        await client.close()


async def postgres_answers(dsn: str, timeout_s: float = 5.0) -> bool:
    """True when a connection with ``dsn`` logs in and runs ``select 1``."""
    try:
        conn = await asyncpg.connect(dsn, timeout=timeout_s)
    except Exception as exc:  # any failure means "not answering"
        logger.debug("postgres not answering: %r", exc)
        return False
    try:
        return bool(await conn.fetchval("select 1") == 1)
    finally:
        await conn.close()
