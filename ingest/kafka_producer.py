"""The aiokafka implementation of :class:`ingest.record_sender.RecordSender`.

:class:`KafkaRecordSender` is an async context manager around one ``AIOKafkaProducer`` with
``acks=all`` and idempotence on, so the producer's own retries (with backoff, after a lost
connection or a leader change) never write a record twice and keep the order of records of
one partition. Linger and batch size come from :class:`~sessionizer.settings.Settings`.

Retries here are only those that cannot duplicate anything:

- starting (bootstrapping the cluster metadata) is retried with backoff until
  ``start_timeout_s`` has passed;
- queueing a record (``send`` before it returns) is retried with backoff when it failed
  before the record was accepted into the send buffer (no metadata, buffer full).

A record that has been queued is never queued again by this class: the idempotent producer
retries it until the broker acknowledges it. A failure of the acknowledgement is raised to the
caller as :class:`~sessionizer.errors.TransientError` (or ``PermanentError`` for faults that
retrying will not fix, such as a record over the broker's size limit).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Sequence
from types import TracebackType
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError
from aiokafka.structs import TopicPartition

from ingest.record_sender import Header
from sessionizer.errors import PermanentError, SessionizerError, TransientError
from sessionizer.settings import Settings

log = logging.getLogger(__name__)


def kafka_error_to_sessionizer(exc: BaseException, what: str) -> SessionizerError:
    """Map an aiokafka (or socket/timeout) fault to the sessionizer error classes."""
    if isinstance(exc, SessionizerError):
        return exc
    if isinstance(exc, KafkaError):
        if exc.retriable or type(exc).__name__ in {"KafkaTimeoutError", "KafkaConnectionError"}:
            return TransientError(f"{what}: {exc}")
        return PermanentError(f"{what}: {exc}")
    if isinstance(exc, OSError | TimeoutError):
        return TransientError(f"{what}: {exc!r}")
    return PermanentError(f"{what}: {exc!r}")


class _Ack:
    """Awaitable completing when the broker acknowledged one record (errors mapped)."""

    __slots__ = ("_future", "_topic")

    def __init__(self, future: asyncio.Future[Any], topic: str) -> None:
        self._future = future
        self._topic = topic

    def __await__(self) -> Any:
        return self._wait().__await__()

    async def _wait(self) -> None:
        future = self._future
        if future.done() and future.exception() is None:
            return
        try:
            await asyncio.shield(future)
        except KafkaError as exc:
            raise kafka_error_to_sessionizer(exc, f"send to {self._topic}") from exc

    def done(self) -> bool:
        return self._future.done()


class KafkaRecordSender:
    """A :class:`~ingest.record_sender.RecordSender` over aiokafka (acks=all, idempotent).

    ``async with KafkaRecordSender(settings) as sender: ack = await sender.send(...)``.
    Leaving the context flushes what was queued for up to ``close_timeout_s`` seconds; after
    that, records still unacknowledged are abandoned (their acks never complete: stop waiting
    for them before leaving) and the producer is closed, so a dead broker cannot block
    shutdown forever.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        client_id: str = "sessionizer-producer",
        start_timeout_s: float = 30.0,
        send_retry_timeout_s: float = 30.0,
        request_timeout_ms: int = 30_000,
        retry_backoff_ms: int = 200,
        close_timeout_s: float = 10.0,
        probe_timeout_s: float = 2.0,
    ) -> None:
        self._settings = settings
        self._client_id = client_id
        self._start_timeout_s = start_timeout_s
        self._send_retry_timeout_s = send_retry_timeout_s
        self._request_timeout_ms = request_timeout_ms
        self._retry_backoff_ms = retry_backoff_ms
        self._close_timeout_s = close_timeout_s
        self._probe_timeout_s = probe_timeout_s
        self._producer: AIOKafkaProducer | None = None

    # --- lifecycle -------------------------------------------------------------------

    def _new_producer(self) -> AIOKafkaProducer:
        return AIOKafkaProducer(
            bootstrap_servers=self._settings.kafka_bootstrap_servers,
            client_id=self._client_id,
            acks="all",
            enable_idempotence=True,
            linger_ms=self._settings.producer_linger_ms,
            max_batch_size=self._settings.producer_max_batch_size,
            request_timeout_ms=self._request_timeout_ms,
            retry_backoff_ms=self._retry_backoff_ms,
        )

    async def __aenter__(self) -> KafkaRecordSender:
        deadline = time.monotonic() + self._start_timeout_s
        backoff = self._retry_backoff_ms / 1000
        while True:
            producer = self._new_producer()
            try:
                await producer.start()
            except (KafkaError, OSError) as exc:
                with contextlib.suppress(Exception):
                    await producer.stop()
                if time.monotonic() + backoff > deadline:
                    raise TransientError(
                        f"Kafka is unreachable at {self._settings.kafka_bootstrap_servers}"
                        f" ({exc}); is the broker running (`sessionizer dev status`)?"
                    ) from exc
                log.info("Kafka not reachable yet (%s); retrying in %.1f s", exc, backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5.0)
                continue
            self._producer = producer
            log.debug("producer started (%s)", self._settings.kafka_bootstrap_servers)
            return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        producer, self._producer = self._producer, None
        if producer is None:
            return
        try:
            await asyncio.wait_for(producer.flush(), self._close_timeout_s)
        except (TimeoutError, KafkaError) as err:
            log.warning("producer closed with records unacknowledged (%r)", err)
            await self._abandon(producer)
            return
        await producer.stop()

    @staticmethod
    async def _abandon(producer: AIOKafkaProducer) -> None:
        """Close a producer whose queued records cannot be delivered (broker gone).

        ``AIOKafkaProducer.stop()`` flushes first and would wait as long as the broker is
        down; here the sender task is cancelled before the client is closed.
        """
        sender = getattr(producer, "_sender", None)
        task = getattr(sender, "sender_task", None)
        if task is not None:
            task.cancel()
            with contextlib.suppress(BaseException):
                await task
        producer._closed = True
        with contextlib.suppress(Exception):
            await producer.client.close()

    def _require(self) -> AIOKafkaProducer:
        if self._producer is None:
            raise RuntimeError("KafkaRecordSender used outside its `async with` block")
        return self._producer

    # --- RecordSender ----------------------------------------------------------------

    async def send(
        self,
        topic: str,
        *,
        key: bytes | None,
        value: bytes,
        headers: Sequence[Header] = (),
        timestamp_ms: int | None = None,
    ) -> Awaitable[None]:
        """Queue one record; the returned awaitable completes on the broker's ack.

        Raises :class:`TransientError` when the record could not be queued within
        ``send_retry_timeout_s`` (no metadata for the topic, send buffer full).
        """
        producer = self._require()
        deadline = time.monotonic() + self._send_retry_timeout_s
        backoff = self._retry_backoff_ms / 1000
        while True:
            try:
                future = await producer.send(
                    topic,
                    value=value,
                    key=key,
                    headers=list(headers) or None,
                    timestamp_ms=timestamp_ms,
                )
            except KafkaError as exc:
                # Nothing was queued: retrying cannot write the record twice.
                error = kafka_error_to_sessionizer(exc, f"queue a record for {topic}")
                if not error.retriable or time.monotonic() + backoff > deadline:
                    raise error from exc
                log.info("could not queue a record for %s (%s); retrying", topic, exc)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5.0)
                continue
            return _Ack(future, topic)

    async def flush(self) -> None:
        """Wait until every queued record is acknowledged (or failed)."""
        await self._require().flush()

    async def check_reachable(self, topic: str | None = None) -> None:
        """Raise :class:`TransientError` unless the brokers we would write to are connected.

        With ``topic``: the leader of each of its partitions (from the producer's metadata);
        without: every known broker. A live connection counts (a stopped broker closes its
        sockets, which the client notices at once); a missing one is opened now, and a
        refused or slow connection fails the check. No request is sent: cheap enough to run
        before every HTTP request, to answer 503 before anything is queued.
        """
        producer = self._require()
        client = producer.client
        try:
            async with asyncio.timeout(self._probe_timeout_s):
                if topic is None:
                    nodes: set[int | None] = {broker.nodeId for broker in client.cluster.brokers()}
                else:
                    partitions = await producer.partitions_for(topic)
                    nodes = {
                        client.cluster.leader_for_partition(TopicPartition(topic, p))
                        for p in partitions
                    }
                if not nodes:
                    raise TransientError("no Kafka broker is known")
                for node in nodes:
                    if node is None or node < 0:
                        raise TransientError(f"a partition of {topic} has no leader")
                    if not await client.ready(node):
                        raise TransientError(f"Kafka broker {node} is unreachable")
        except SessionizerError:
            raise
        except (KafkaError, OSError, TimeoutError) as exc:
            raise kafka_error_to_sessionizer(exc, "Kafka is unreachable") from exc

    async def is_reachable(self, topic: str | None = None) -> bool:
        """``True`` when :meth:`check_reachable` passes."""
        try:
            await self.check_reachable(topic)
        except SessionizerError as exc:
            log.debug("Kafka reachability probe failed: %s", exc)
            return False
        return True
