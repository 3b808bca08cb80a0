"""Running the worker: topic checks, the sink process service, the Faust worker loop."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import faust
from aiokafka.admin import AIOKafkaAdminClient
from mode import Service

from ingest.kafka_topics import ensure_topics
from sessionizer.errors import ConfigError, SessionizerError, TransientError
from sessionizer.settings import Settings
from sinks.sink_process import SinkProcess
from streams.faust_app import build_worker_app, changelog_topic_name

log = logging.getLogger(__name__)


async def check_topics(settings: Settings) -> None:
    """Create missing topics; refuse a raw topic or changelog with another partition count.

    Table partitions must equal raw-topic partitions: the state of a session lives in the
    changelog partition numbered like its raw partition.
    """
    await ensure_topics(settings, {settings.raw_topic: None})
    try:
        await ensure_topics(settings, {settings.sessions_topic: None, settings.dlq_topic: None})
    except ConfigError as exc:  # their partition count does not matter to the fold
        log.warning("%s (using them as they are)", exc)
    changelog = changelog_topic_name(settings)
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap_servers)
    try:
        await admin.start()
        if changelog not in set(await admin.list_topics()):
            return
        described: list[dict[str, Any]] = await admin.describe_topics([changelog])
    except (OSError, TimeoutError) as exc:
        raise TransientError(f"could not describe {changelog}: {exc!r}") from exc
    finally:
        await admin.close()
    count = len(described[0]["partitions"]) if described else 0
    if described and described[0]["error_code"] == 0 and count != settings.topic_partitions:
        raise ConfigError(
            f"changelog topic {changelog} has {count} partitions but the raw topic "
            f"{settings.raw_topic} has {settings.topic_partitions}: they must be equal. Use "
            "another SESSIONIZER_WORKER_APP_ID (a new, empty state), or recreate the topics."
        )


class SinkService(Service):
    """The Postgres sink in a child process of the worker (:mod:`sinks.sink_process`)."""

    def __init__(self, settings: Settings, **kwargs: Any) -> None:
        self._settings = settings
        self._sink = SinkProcess(settings)
        super().__init__(**kwargs)

    async def on_start(self) -> None:
        await self._sink.__aenter__()
        self.add_future(self._watch())

    async def _watch(self) -> None:
        code = await self._sink.wait()
        if not self._sink.stopping:
            log.critical("the sink process ended (exit code %s): stopping the worker", code)
            await self.crash(RuntimeError(f"the sink process ended with exit code {code}"))

    async def on_stop(self) -> None:
        await self._sink.__aexit__(None, None, None)


def run_worker(settings: Settings) -> int:
    """Run the worker until SIGINT/SIGTERM (or a crash); returns the exit status."""
    try:
        asyncio.run(check_topics(settings))
    except SessionizerError:
        raise
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    worker_app = build_worker_app(settings)
    services: list[Any] = []
    if settings.worker_run_sink:
        services.append(SinkService(settings, loop=loop))
    worker = faust.Worker(
        worker_app.app,
        *services,
        loop=loop,
        loglevel=settings.log_level,
        quiet=True,
        override_logging=False,
        redirect_stdouts=False,
    )
    log.info(
        "worker %s: raw %s -> sessions %s, dlq %s; store %s; batches of %d within %.2f s; "
        "flush every %.1f s; web port %d; sink %s",
        settings.worker_app_id,
        settings.raw_topic,
        settings.sessions_topic,
        settings.dlq_topic,
        settings.worker_store,
        settings.worker_batch_size,
        settings.worker_batch_timeout_s,
        settings.flush_interval_s,
        settings.worker_web_port,
        "child process" if settings.worker_run_sink else "off",
    )
    try:
        worker.execute_from_commandline()
    except SystemExit as exc:
        code = exc.code
        return code if isinstance(code, int) else (0 if code is None else 1)
    return 0
