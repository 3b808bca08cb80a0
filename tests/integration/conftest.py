"""Fixtures for integration tests: a real Kafka broker and a real Postgres, never mocked.

Where the services come from (see ``service_endpoints.py``): ``KAFKA_BOOTSTRAP_SERVERS`` and
``DATABASE_URL`` when both are set; else testcontainers (``apache/kafka:3.9.1``, ``postgres:16``)
when a Docker engine answers; else the local stack (``sessionizer dev up``), started here when it
is not running and then stopped at the end of the session.

Session-scoped
  ``settings_base``  Settings from the environment (tests/conftest.py)
  ``kafka_bootstrap``  str, bootstrap servers of the Kafka under test
  ``database_url``  str, ``postgresql://...`` URL of the Postgres under test (database-wide)
  ``kafka_admin``  a started ``aiokafka.admin.AIOKafkaAdminClient``

Per test (everything named after the test, with a random suffix; removed afterwards)
  ``unique_name``  ``unique_name("raw") -> "raw-<test>-<hex>"``: a fresh name, nothing created
  ``make_topic``  ``await make_topic(name=None, partitions=1) -> str``: creates a topic (a
      unique name when ``name`` is None), waits until it is usable; deleted after the test
  ``pg_schema``  :class:`PgSchema` (``.name``, ``.dsn``, ``.server_settings``): an empty schema;
      ``.dsn`` is ``database_url`` with ``?search_path=<schema>`` (asyncpg turns unknown query
      parameters into server settings), so unqualified names land in it; dropped (cascade) after
  ``pg_conn``  an ``asyncpg.Connection`` whose search_path is ``pg_schema``
  ``test_settings``  ``settings_base.model_copy`` pointing at the services, with unique
      ``raw_topic``/``sessions_topic``/``dlq_topic`` (NOT created: use ``make_topic(name)`` or
      let the code under test create them), unique ``worker_app_id``, ``sink_group_id``,
      a ``worker_data_dir`` under ``tmp_path``, and ``database_url`` = ``pg_schema.dsn``.
      After the test every topic whose name contains the test's token is deleted (this covers
      Faust's ``<app id>-...`` changelog/assignor topics).
"""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import asyncpg
import pytest
import pytest_asyncio
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import for_code

from sessionizer.settings import Settings
from tests.integration.service_endpoints import Endpoints, kafka_and_postgres

MakeTopic = Callable[..., Awaitable[str]]
UniqueName = Callable[[str], str]


@dataclass(frozen=True)
class PgSchema:
    """A per-test Postgres schema and how to connect with it first on the search_path."""

    name: str
    dsn: str
    server_settings: dict[str, str] = field(default_factory=dict)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test under tests/integration is an integration test."""
    for item in items:
        if "/integration/" in str(item.path):
            item.add_marker(pytest.mark.integration)


# --- session: the services ---------------------------------------------------------------


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def service_endpoints(settings_base: Settings) -> AsyncIterator[Endpoints]:
    async with kafka_and_postgres(settings_base) as endpoints:
        yield endpoints


@pytest.fixture(scope="session")
def kafka_bootstrap(service_endpoints: Endpoints) -> str:
    return service_endpoints.kafka_bootstrap


@pytest.fixture(scope="session")
def database_url(service_endpoints: Endpoints) -> str:
    return service_endpoints.database_url


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def kafka_admin(kafka_bootstrap: str) -> AsyncIterator[AIOKafkaAdminClient]:
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap, request_timeout_ms=30000)
    await admin.start()
    try:
        yield admin
    finally:
        await admin.close()


# --- per test: names, topics, schema, settings --------------------------------------------


@pytest.fixture
def test_token(request: pytest.FixtureRequest) -> str:
    """``<test name, sanitized, at most 40 chars>-<8 hex>``: unique per test run."""
    base = re.sub(r"[^a-zA-Z0-9]+", "-", request.node.name).strip("-").lower()[:40]
    return f"{base}-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def unique_name(test_token: str) -> UniqueName:
    def make(prefix: str) -> str:
        return f"{prefix}-{test_token}-{uuid.uuid4().hex[:6]}"

    return make


TOPIC_ALREADY_EXISTS = 36
UNKNOWN_TOPIC_OR_PARTITION = 3


async def _create_topic(admin: AIOKafkaAdminClient, name: str, partitions: int) -> None:
    response = await admin.create_topics(
        [NewTopic(name=name, num_partitions=partitions, replication_factor=1)], timeout_ms=30000
    )
    for entry in response.topic_errors:
        code = entry[1]
        if code not in (0, TOPIC_ALREADY_EXISTS):
            raise for_code(code)(f"creating topic {name}: {entry}")


async def _delete_topics(admin: AIOKafkaAdminClient, names: list[str]) -> None:
    if not names:
        return
    response = await admin.delete_topics(names, timeout_ms=30000)
    for topic, code, *_ in response.topic_error_codes:
        if code not in (0, UNKNOWN_TOPIC_OR_PARTITION):
            raise for_code(code)(f"deleting topic {topic}")


async def _wait_topic_ready(admin: AIOKafkaAdminClient, name: str, partitions: int) -> None:
    """Wait until the broker's metadata shows the topic with every partition led."""
    for _ in range(200):
        described = await admin.describe_topics([name])
        if described and described[0].get("error_code", 0) == 0:
            parts = described[0].get("partitions", [])
            if len(parts) == partitions and all(p.get("leader", -1) >= 0 for p in parts):
                return
        await asyncio.sleep(0.05)
    raise TimeoutError(f"topic {name} did not become ready")


@pytest_asyncio.fixture(loop_scope="session")
async def make_topic(
    kafka_admin: AIOKafkaAdminClient, unique_name: UniqueName
) -> AsyncIterator[MakeTopic]:
    created: list[str] = []

    async def make(name: str | None = None, partitions: int = 1) -> str:
        topic = name or unique_name("topic")
        await _create_topic(kafka_admin, topic, partitions)
        created.append(topic)
        await _wait_topic_ready(kafka_admin, topic, partitions)
        return topic

    yield make
    await _delete_topics(kafka_admin, created)


def _with_query(url: str, **params: str) -> str:
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query))
    query.update(params)
    return urlunsplit(parts._replace(query=urlencode(query)))


@pytest_asyncio.fixture(loop_scope="session")
async def pg_schema(database_url: str, test_token: str) -> AsyncIterator[PgSchema]:
    name = "t_" + re.sub(r"[^a-z0-9]+", "_", test_token.lower())[:55]
    conn = await asyncpg.connect(database_url)
    try:
        await conn.execute(f'create schema "{name}"')
    finally:
        await conn.close()
    yield PgSchema(
        name=name,
        dsn=_with_query(database_url, search_path=name),
        server_settings={"search_path": name},
    )
    conn = await asyncpg.connect(database_url)
    try:
        await conn.execute(f'drop schema if exists "{name}" cascade')
    finally:
        await conn.close()


@pytest_asyncio.fixture(loop_scope="session")
async def pg_conn(pg_schema: PgSchema) -> AsyncIterator[asyncpg.Connection]:
    conn = await asyncpg.connect(pg_schema.dsn)
    try:
        yield conn
    finally:
        await conn.close()


@pytest_asyncio.fixture(loop_scope="session")
async def test_settings(
    settings_base: Settings,
    kafka_bootstrap: str,
    kafka_admin: AIOKafkaAdminClient,
    pg_schema: PgSchema,
    test_token: str,
    tmp_path: Path,
) -> AsyncIterator[Settings]:
    yield settings_base.model_copy(
        update={
            "kafka_bootstrap_servers": kafka_bootstrap,
            "database_url": pg_schema.dsn,
            "raw_topic": f"raw-{test_token}",
            "sessions_topic": f"sessions-{test_token}",
            "dlq_topic": f"dlq-{test_token}",
            "worker_app_id": f"worker-{test_token}",
            "sink_group_id": f"sink-{test_token}",
            "worker_data_dir": tmp_path / "worker-data",
        }
    )
    leftovers = [name for name in await kafka_admin.list_topics() if test_token in name]
    await _delete_topics(kafka_admin, leftovers)
