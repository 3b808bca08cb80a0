"""Where the integration tests find Kafka and Postgres, and who must stop them afterwards.

Order: ``KAFKA_BOOTSTRAP_SERVERS`` / ``DATABASE_URL`` from the environment (read through
``Settings``); else testcontainers when a Docker engine answers; else the project's local stack
(started here if it is not running, and stopped at the end only if started here).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from sessionizer.devstack.local_stack import LocalStack
from sessionizer.devstack.probes import kafka_answers
from sessionizer.settings import Settings

logger = logging.getLogger(__name__)

KAFKA_IMAGE = "apache/kafka:3.9.1"
POSTGRES_IMAGE = "postgres:16"
DOCKER_PING_TIMEOUT_S = 3.0


@dataclass(frozen=True)
class Endpoints:
    kafka_bootstrap: str
    database_url: str
    source: str  # "environment", "testcontainers" or "local stack"


async def docker_answers() -> bool:
    """Whether a Docker engine answers a ping within a few seconds (never hangs)."""

    def ping() -> bool:
        try:
            import docker  # type: ignore[import-untyped]

            client = docker.from_env(timeout=int(DOCKER_PING_TIMEOUT_S))
            try:
                return bool(client.ping())
            finally:
                client.close()
        except Exception:  # no engine, no socket, no permission: all mean "no Docker"
            return False

    try:
        return await asyncio.wait_for(asyncio.to_thread(ping), DOCKER_PING_TIMEOUT_S + 1)
    except TimeoutError:
        return False


@contextlib.asynccontextmanager
async def kafka_and_postgres(settings: Settings) -> AsyncIterator[Endpoints]:
    """Yield the endpoints; on exit stop only what this context started."""
    from_env = {"kafka_bootstrap_servers", "database_url"} <= settings.model_fields_set
    if from_env:
        yield Endpoints(settings.kafka_bootstrap_servers, settings.database_url, "environment")
    elif await docker_answers():
        async with _containers() as endpoints:
            yield endpoints
    else:
        async with _local_stack(settings) as endpoints:
            yield endpoints


@contextlib.asynccontextmanager
async def _local_stack(settings: Settings) -> AsyncIterator[Endpoints]:
    stack = LocalStack(settings)
    result = await stack.up()
    endpoints = Endpoints(stack.kafka_bootstrap_servers, stack.database_url, "local stack")
    try:
        yield endpoints
    finally:
        await stack.down(kafka=result.kafka_started, postgres=result.postgres_started)


@contextlib.asynccontextmanager
async def _containers() -> AsyncIterator[Endpoints]:
    from testcontainers.core.container import DockerContainer
    from testcontainers.core.docker_client import DockerClient
    from testcontainers.postgres import PostgresContainer

    host = DockerClient().host()
    port = _free_port()
    kafka = (
        DockerContainer(KAFKA_IMAGE)
        .with_bind_ports(9092, port)
        .with_env("KAFKA_NODE_ID", "1")
        .with_env("KAFKA_PROCESS_ROLES", "broker,controller")
        .with_env("KAFKA_LISTENERS", "PLAINTEXT://0.0.0.0:9092,CONTROLLER://localhost:9093")
        .with_env("KAFKA_ADVERTISED_LISTENERS", f"PLAINTEXT://{host}:{port}")
        .with_env("KAFKA_CONTROLLER_LISTENER_NAMES", "CONTROLLER")
        .with_env(
            "KAFKA_LISTENER_SECURITY_PROTOCOL_MAP", "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT"
        )
        .with_env("KAFKA_CONTROLLER_QUORUM_VOTERS", "1@localhost:9093")
        .with_env("KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR", "1")
        .with_env("KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR", "1")
        .with_env("KAFKA_TRANSACTION_STATE_LOG_MIN_ISR", "1")
        .with_env("KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS", "0")
        .with_env("KAFKA_AUTO_CREATE_TOPICS_ENABLE", "false")
    )
    postgres = PostgresContainer(
        POSTGRES_IMAGE,
        username="sessionizer",
        password="sessionizer",
        dbname="sessionizer",
        driver=None,
    )
    started: list[Any] = []
    try:
        for container in (postgres, kafka):
            await asyncio.to_thread(container.start)
            started.append(container)
        bootstrap = f"{host}:{port}"
        for _ in range(240):
            if await kafka_answers(bootstrap, timeout_s=5.0):
                break
            await asyncio.sleep(0.5)
        else:
            raise RuntimeError(f"the {KAFKA_IMAGE} container never answered on {bootstrap}")
        yield Endpoints(bootstrap, postgres.get_connection_url(), "testcontainers")
    finally:
        for container in reversed(started):
            await asyncio.to_thread(container.stop)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
