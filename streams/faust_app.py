"""The worker's Faust app, built from :class:`Settings`: topics, the sessions table, the agent.

* the raw topic: Faust's consumer is subscribed to it (group membership, assignment, commits),
  but its records are read in bulk by the worker's own reader (:mod:`streams.raw_intake`) and
  folded in micro-batches (:mod:`streams.session_agent`); the agent on it never gets a record;
* the ``sessions`` table: session_id bytes -> stored session bytes
  (:mod:`streams.table_value`), a changelog topic ``<app id>-sessions-changelog`` that Faust
  creates compacted, with as many partitions as the raw topic (a session's state lives in
  the changelog partition of its raw partition, so it moves with it on a rebalance);
* timers: the interval flush (:mod:`streams.interval_flush`; it also runs as soon as a fetch
  of the raw reader finds nothing, so a caught-up worker does not hold changes for up to an
  interval) and the INFO stats line;
* ``GET /metrics`` on the worker's web port (Prometheus text, :mod:`streams.worker_metrics`);
* rebalance hooks: revoked partitions leave the cache; after the table restored newly
  assigned partitions, their stored dirty batches are queued for the interval flush.
"""

from __future__ import annotations

import asyncio
import logging
import os
from dataclasses import dataclass
from typing import Any, NoReturn

import faust
from faust.web import View

from sessionizer.settings import Settings
from streams.delivery_gate import DeliveryGate
from streams.faust_gap_fix import disable_gap_filling
from streams.faust_record_sender import FaustRecordSender
from streams.interval_flush import IntervalFlusher
from streams.offset_authority import committed_start, install_commit_authority
from streams.raw_intake import RawPartitionHandover, RawReader, run_intake
from streams.rocksdb_memory import open_partition_dbs, rocksdb_memory_bytes
from streams.rocksdb_options import rocksdb_options
from streams.session_agent import Destinations, SessionBatchProcessor
from streams.session_table import SessionTable
from streams.worker_metrics import WorkerMetrics

log = logging.getLogger(__name__)

TABLE_NAME = "sessions"
PROMETHEUS_CONTENT_TYPE = "text/plain; version=0.0.4"
LAG_TIMEOUT_S = 5.0


def exit_at_once(what: str, exc: BaseException) -> NoReturn:
    """End the process now, as SIGKILL would: the only safe reaction to a failed batch.

    A failed micro-batch (or interval flush) leaves decoded states with effects that Kafka
    does not hold (snapshots not acknowledged, dirty flags cleared). Going on would write
    them to the changelog later; a graceful stop would let Faust's ``take_events`` ack the
    failed batch's events while it closes, and commit them. Exiting at once keeps the
    committed offsets behind everything not acknowledged, so a restart replays it exactly
    (the SIGKILL tests prove that path).
    """
    log.critical("%s, exiting at once (status 1): %r", what, exc, exc_info=exc)
    logging.shutdown()
    os._exit(1)


def changelog_topic_name(settings: Settings) -> str:
    """The changelog topic Faust uses for the sessions table."""
    return f"{settings.worker_app_id}-{TABLE_NAME}-changelog"


def broker_urls(settings: Settings) -> list[str]:
    return [
        f"kafka://{server.strip()}"
        for server in settings.kafka_bootstrap_servers.split(",")
        if server.strip()
    ]


@dataclass(slots=True)
class WorkerApp:
    """The Faust app and the parts tests and the command may want to reach."""

    app: Any
    table: Any
    sessions: SessionTable
    processor: SessionBatchProcessor
    flusher: IntervalFlusher
    metrics: WorkerMetrics


def build_worker_app(settings: Settings) -> WorkerApp:
    """A configured, not yet started Faust app running the session fold."""
    disable_gap_filling()
    app = faust.App(
        settings.worker_app_id,
        broker=broker_urls(settings),
        store=settings.worker_store,
        datadir=str(settings.worker_data_dir),
        autodiscover=False,
        key_serializer="raw",
        value_serializer="raw",
        processing_guarantee="at_least_once",
        consumer_auto_offset_reset="earliest",
        topic_partitions=settings.topic_partitions,
        topic_replication_factor=settings.topic_replication_factor,
        topic_disable_leader=True,
        table_standby_replicas=1,
        stream_buffer_maxsize=max(4096, 2 * settings.worker_batch_size),
        producer_linger=settings.producer_linger_ms / 1000.0,
        producer_max_batch_size=settings.producer_max_batch_size,
        producer_acks=-1,
        broker_session_timeout=settings.worker_session_timeout_s,
        broker_heartbeat_interval=settings.worker_session_timeout_s / 10,
        web_enabled=True,
        web_port=settings.worker_web_port,
        web_bind=settings.worker_web_bind,
        web_host=settings.worker_web_bind,
    )
    raw_topic = app.topic(
        settings.raw_topic,
        key_type=bytes,
        value_type=bytes,
        key_serializer="raw",
        value_serializer="raw",
        partitions=settings.topic_partitions,
    )
    table = app.Table(
        TABLE_NAME,
        default=None,
        key_type=bytes,  # bytes: the "raw" serializer for keys and values
        value_type=bytes,
        partitions=settings.topic_partitions,
        help="Session states (streams.table_value), keyed by session_id.",
        options=rocksdb_options(settings),
    )
    metrics = WorkerMetrics()
    lock = asyncio.Lock()
    sessions = SessionTable(app, table, cache_size=settings.worker_state_cache_size)
    sender = FaustRecordSender(app)
    gate = DeliveryGate(committed_start(app))
    handover = RawPartitionHandover(settings.raw_topic)
    processor = SessionBatchProcessor(
        sessions=sessions,
        sender=sender,
        destinations=Destinations(settings.sessions_topic, settings.dlq_topic, settings.gap_ms),
        metrics=metrics,
        lock=lock,
        gate=gate,
        state_write_interval_s=settings.worker_state_write_interval_s,
    )
    flusher = IntervalFlusher(
        sessions=sessions,
        sender=sender,
        sessions_topic=settings.sessions_topic,
        metrics=metrics,
        lock=lock,
    )
    worker = WorkerApp(app, table, sessions, processor, flusher, metrics)

    def raw_partitions(tps: Any) -> set[int]:
        return {tp.partition for tp in tps if tp.topic == settings.raw_topic}

    def take_over_raw_partitions() -> None:
        handover.install(app.consumer)
        install_commit_authority(app.consumer, settings.raw_topic, gate)

    @app.agent(raw_topic, name="sessionizer.raw_subscription")
    async def raw_subscription(stream: Any) -> None:
        """Subscribes Faust's consumer to the raw topic; its raw partitions stay paused.

        Runs when the agent starts, before the consumer joins the group: the hooks are in place
        before Faust pauses or resumes any partition.
        """
        take_over_raw_partitions()
        async for _event in stream:
            log.error("Faust delivered a raw record itself; ignored (the raw reader reads it)")

    async def fold_raw_batches() -> None:
        take_over_raw_partitions()
        try:
            async with RawReader(settings) as reader:
                await run_intake(
                    reader,
                    handover,
                    gate,
                    processor.process,
                    lock=lock,
                    batch_size=settings.worker_batch_size,
                    batch_timeout_s=settings.worker_batch_timeout_s,
                    on_idle=flusher.flush,
                )
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            exit_at_once("micro-batch failed", exc)

    app.task(fold_raw_batches)

    async def interval_flush() -> None:
        try:
            await flusher.flush()
        except Exception as exc:
            exit_at_once("interval flush failed", exc)

    app.timer(settings.flush_interval_s, name="sessionizer.interval_flush")(interval_flush)

    async def write_states() -> None:
        try:
            await processor.write_states()
        except Exception as exc:
            exit_at_once("writing session states failed", exc)

    write_tick = max(0.2, settings.worker_state_write_interval_s / 2)
    app.timer(write_tick, name="sessionizer.state_writes")(write_states)

    async def measure_lag() -> dict[int, int]:
        tps = [tp for tp in app.consumer.assignment() if tp.topic == settings.raw_topic]
        if not tps:
            return {}
        highwaters = await app.consumer.highwaters(*tps)
        lag: dict[int, int] = {}
        for tp in tps:
            end = highwaters.get(tp)
            position = gate.next_offset(tp.partition)
            if position is None:
                position = await app.consumer.position(tp)
            if end is not None and position is not None:
                lag[tp.partition] = max(0, end - position)
        return lag

    async def refresh_lag() -> None:
        try:
            metrics.set_lag(await asyncio.wait_for(measure_lag(), LAG_TIMEOUT_S))
        except Exception as exc:  # lag is informative: never fail the worker for it
            log.debug("could not measure consumer lag: %r", exc)

    async def stats_line() -> None:
        await refresh_lag()
        log.info("worker stats: %s", metrics.stats_line())

    app.timer(settings.stats_interval_s, name="sessionizer.stats")(stats_line)

    def refresh_rocksdb_memory() -> None:
        try:
            metrics.set_rocksdb_memory(rocksdb_memory_bytes(open_partition_dbs(table.data)))
        except Exception as exc:  # informative only (a partition may be closing)
            log.debug("could not read RocksDB's memory figures: %r", exc)

    @app.page("/metrics")
    class MetricsPage(View):
        async def get(self, request: Any) -> Any:
            await refresh_lag()
            refresh_rocksdb_memory()
            return self.bytes(metrics.prometheus_text(), content_type=PROMETHEUS_CONTENT_TYPE)

    @app.on_partitions_revoked.connect
    async def on_revoked(sender: Any, /, *args: Any, signal: Any, **kwargs: Any) -> None:
        partitions = raw_partitions(args[0] if args else kwargs.get("revoked", ()))
        async with lock:
            dropped = sessions.drop_partitions(partitions)
            processor.forget_partitions(partitions)
        log.info("partitions revoked %s: %d cached sessions dropped", sorted(partitions), dropped)

    @table.on_recover
    async def on_recovered() -> None:
        partitions = raw_partitions(app.consumer.assignment())
        async with lock:
            found = sessions.find_dirty(partitions)
        log.info(
            "table ready for partitions %s: %d stored sessions with unsent changes",
            sorted(partitions),
            found,
        )

    _ = (raw_subscription, interval_flush, write_states, stats_line, MetricsPage)
    _ = (on_revoked, on_recovered)
    return worker
