"""Both local services together: what ``sessionizer dev up|down|status`` and the fixtures call."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sessionizer.devstack.kafka_stack import KafkaStack
from sessionizer.devstack.postgres_stack import PostgresStack
from sessionizer.devstack.service_state import ServiceState
from sessionizer.settings import Settings

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class UpResult:
    """Which services ``up`` started (False: it was already running)."""

    kafka_started: bool
    postgres_started: bool


class LocalStack:
    """The local Kafka broker and Postgres server of one checkout (``settings.dev_dir``)."""

    def __init__(self, settings: Settings) -> None:
        self.kafka = KafkaStack(settings)
        self.postgres = PostgresStack(settings)

    @property
    def kafka_bootstrap_servers(self) -> str:
        return self.kafka.bootstrap_servers

    @property
    def database_url(self) -> str:
        return self.postgres.database_url

    def exports(self) -> str:
        """Shell lines that point clients at this stack."""
        return (
            f"export KAFKA_BOOTSTRAP_SERVERS={self.kafka_bootstrap_servers}\n"
            f"export DATABASE_URL={self.database_url}"
        )

    async def up(self) -> UpResult:
        """Start both services (Postgres first, it is quicker); each waits until it answers."""
        postgres_started = await self.postgres.start()
        kafka_started = await self.kafka.start()
        return UpResult(kafka_started=kafka_started, postgres_started=postgres_started)

    async def down(self, *, kafka: bool = True, postgres: bool = True) -> list[str]:
        """Stop the chosen services; returns the names of those that were running."""
        stopped = []
        if kafka and await self.kafka.stop():
            stopped.append(self.kafka.name)
        if postgres and await self.postgres.stop():
            stopped.append(self.postgres.name)
        return stopped

    async def status(self) -> list[ServiceState]:
        return [await self.kafka.status(), await self.postgres.status()]

    def running(self) -> dict[str, bool]:
        """Whether each service has a live process (no network probe)."""
        return {
            self.kafka.name: self.kafka.pid() is not None,
            self.postgres.name: self.postgres.pid() is not None,
        }
