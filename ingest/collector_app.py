"""The HTTP collector (aiohttp): ``POST /v1/events`` into the raw topic.

``POST /v1/events`` takes one event or an array of up to 500 (at most 1 MiB, Content-Type
``application/json`` or ``text/plain`` as ``navigator.sendBeacon`` sends). Every event is stamped
with ``received_at``, validated (:mod:`ingest.collector_body`), and the valid ones are produced
with key = ``session_id``; the answer waits for all of their acks:
``200 {"accepted": n, "rejected": [{"index", "reason", "message"}]}``. Rejected events are not
produced anywhere: the answer tells the client.

Delivery guarantee: at least once per event. Before queueing anything the collector checks that
Kafka answers (and that the raw topic's leaders accept a connection); if not, it answers 503 with
``Retry-After`` and nothing of the request was queued. If Kafka fails while a request's records
are in flight, the answer is 503 although some of them may be on the topic (or get there when the
broker is back): the client sends the same batch again and the fold drops the copies by
``event_id``.

Also: CORS preflights for the configured origins (``SESSIONIZER_COLLECTOR_CORS_ORIGINS``, ``*``
for any), a bearer token when one is configured, ``GET /healthz`` (is Kafka reachable) and
``GET /openapi.json``.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack
from typing import Any, Final

from aiohttp import web

from ingest.collector_body import MAX_BODY_BYTES, BodyError, collect_events, parse_body
from ingest.collector_openapi import build_openapi
from ingest.kafka_producer import KafkaRecordSender
from ingest.kafka_topics import ensure_topics
from sessionizer.errors import SessionizerError
from sessionizer.settings import Settings

log = logging.getLogger(__name__)

EVENTS_ROUTE: Final = "/v1/events"
ACCEPTED_MEDIA_TYPES: Final = frozenset({"application/json", "text/plain"})
RETRY_AFTER_S: Final = 5
CORS_MAX_AGE_S: Final = 600

SETTINGS_KEY: Final = web.AppKey("settings", Settings)
OPENAPI_KEY: Final = web.AppKey("openapi", dict)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class KafkaLink:
    """The collector's producer, connected in the background until the first success.

    Until the first connection succeeds (topic checked or created, producer started) the
    collector answers 503. After that aiokafka itself reconnects to a broker that comes back.
    """

    def __init__(self, settings: Settings, *, ack_timeout_s: float = 15.0) -> None:
        self.settings = settings
        self.ack_timeout_s = ack_timeout_s
        self.sender: KafkaRecordSender | None = None
        self._stack = AsyncExitStack()
        self._task: asyncio.Task[None] | None = None

    async def start(self, wait_s: float) -> None:
        """Start connecting; wait up to ``wait_s`` for the first connection."""
        self._task = asyncio.create_task(self._connect_until_done())
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(self._task), wait_s)
        if self._task.done() and self._task.exception() is not None:
            raise self._task.exception()  # type: ignore[misc]  # a permanent fault (config)
        if self.sender is None:
            log.warning("Kafka not reachable yet; answering 503 until it is")

    async def _connect_until_done(self) -> None:
        backoff = 0.5
        while True:
            try:
                await ensure_topics(self.settings, {self.settings.raw_topic: None}, timeout_s=10)
                sender = KafkaRecordSender(
                    self.settings, client_id="sessionizer-collector", start_timeout_s=10
                )
                self.sender = await self._stack.enter_async_context(sender)
            except SessionizerError as exc:
                if not exc.retriable:
                    log.error("collector cannot use Kafka: %s", exc)
                    raise
                log.warning("Kafka not reachable (%s); retrying in %.1f s", exc, backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 10.0)
                continue
            log.info("collector connected to Kafka at %s", self.settings.kafka_bootstrap_servers)
            return

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(BaseException):
                await self._task
        await self._stack.aclose()
        self.sender = None

    async def reachable(self) -> bool:
        sender = self.sender
        return sender is not None and await sender.is_reachable(self.settings.raw_topic)


LINK_KEY: Final = web.AppKey("kafka_link", KafkaLink)


def _json(status: int, body: dict[str, Any], **headers: str) -> web.Response:
    return web.json_response(body, status=status, headers=headers or None)


def _error(status: int, code: str, message: str, **headers: str) -> web.Response:
    return _json(status, {"error": code, "message": message}, **headers)


def _unavailable(message: str) -> web.Response:
    return _error(503, "kafka_unavailable", message, **{"Retry-After": str(RETRY_AFTER_S)})


def _origin_allowed(settings: Settings, origin: str | None) -> bool:
    origins = settings.collector_cors_origins
    return origin is not None and ("*" in origins or origin in origins)


@web.middleware
async def cors_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Answers preflights for the configured origins; adds the CORS headers to answers."""
    settings = request.app[SETTINGS_KEY]
    origin = request.headers.get("Origin")
    allowed = _origin_allowed(settings, origin)
    if request.method == "OPTIONS" and "Access-Control-Request-Method" in request.headers:
        if not allowed or request.path != EVENTS_ROUTE:
            log.info("CORS preflight refused for origin %r on %s", origin, request.path)
            return _error(403, "cors_refused", f"origin {origin!r} is not allowed")
        response: web.StreamResponse = web.Response(status=204)
        response.headers["Access-Control-Allow-Methods"] = "POST, OPTIONS"
        response.headers["Access-Control-Allow-Headers"] = "Content-Type, Authorization"
        response.headers["Access-Control-Max-Age"] = str(CORS_MAX_AGE_S)
    else:
        try:
            response = await handler(request)
        except web.HTTPException as exc:  # 404, 405 from the router
            response = _error(exc.status, exc.reason.lower().replace(" ", "_"), exc.reason)
    if allowed and origin is not None:
        response.headers["Access-Control-Allow-Origin"] = origin
        response.headers["Vary"] = "Origin"
    return response


def _token_ok(settings: Settings, request: web.Request) -> bool:
    token = settings.collector_token
    if not token:
        return True
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(given.strip(), token)


async def _read_body(request: web.Request) -> bytes:
    """The body, refusing more than :data:`MAX_BODY_BYTES` without reading it all."""
    if request.content_length is not None and request.content_length > MAX_BODY_BYTES:
        raise BodyError(413, "body_too_large", f"body over {MAX_BODY_BYTES} bytes")
    chunks: list[bytes] = []
    size = 0
    while True:
        chunk = await request.content.read(65_536)
        if not chunk:
            return b"".join(chunks)
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise BodyError(413, "body_too_large", f"body over {MAX_BODY_BYTES} bytes")
        chunks.append(chunk)


async def post_events(request: web.Request) -> web.StreamResponse:
    """``POST /v1/events``."""
    settings = request.app[SETTINGS_KEY]
    link: KafkaLink = request.app[LINK_KEY]
    if not _token_ok(settings, request):
        return _error(
            401,
            "unauthorized",
            "a valid bearer token is required",
            **{"WWW-Authenticate": "Bearer"},
        )
    if request.content_type not in ACCEPTED_MEDIA_TYPES:
        return _error(
            415,
            "unsupported_media_type",
            f"Content-Type {request.content_type!r}: use application/json or text/plain",
        )
    try:
        events = parse_body(await _read_body(request))
    except BodyError as exc:
        log.info("refused a request: %s %s", exc.status, exc.message)
        return _error(exc.status, exc.code, exc.message)
    received_ms = time.time_ns() // 1_000_000
    collected, rejected = collect_events(events, received_ms)
    for item in rejected:
        log.info(
            "rejected event %d of %d: %s: %s",
            item.index,
            len(events),
            item.rejection.reason.value,
            item.rejection.message,
        )
    if collected:
        sender = link.sender
        if sender is None or not await sender.is_reachable(settings.raw_topic):
            return _unavailable("Kafka is unreachable; nothing was sent, retry the whole batch")
        try:
            acks = [
                await sender.send(
                    settings.raw_topic,
                    key=item.key,
                    value=item.value,
                    timestamp_ms=item.timestamp_ms,
                )
                for item in collected
            ]
            async with asyncio.timeout(link.ack_timeout_s):
                for ack in acks:
                    await ack
        except (SessionizerError, TimeoutError) as exc:
            log.warning("Kafka failed during a request of %d events: %r", len(collected), exc)
            return _unavailable("Kafka failed while sending; retry the whole batch")
    log.debug("accepted %d, rejected %d", len(collected), len(rejected))
    return _json(200, {"accepted": len(collected), "rejected": [r.as_json() for r in rejected]})


async def healthz(request: web.Request) -> web.StreamResponse:
    """``GET /healthz``: 200 when Kafka is reachable, else 503."""
    if await request.app[LINK_KEY].reachable():
        return _json(200, {"status": "ok", "kafka": "reachable"})
    return _json(503, {"status": "unavailable", "kafka": "unreachable"})


async def openapi(request: web.Request) -> web.StreamResponse:
    """``GET /openapi.json``."""
    return web.json_response(request.app[OPENAPI_KEY])


@web.middleware
async def log_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    started = time.perf_counter()
    response = await handler(request)
    log.debug(
        "%s %s -> %d (%.1f ms)",
        request.method,
        request.path,
        response.status,
        1000 * (time.perf_counter() - started),
    )
    return response


def create_collector_app(settings: Settings, *, connect_wait_s: float = 10.0) -> web.Application:
    """The collector as an aiohttp application; its Kafka producer lives with the app."""
    app = web.Application(
        middlewares=[log_middleware, cors_middleware], client_max_size=MAX_BODY_BYTES + 1
    )
    app[SETTINGS_KEY] = settings
    app[OPENAPI_KEY] = build_openapi(token_required=bool(settings.collector_token))

    async def kafka_link(app: web.Application) -> AsyncIterator[None]:
        link = KafkaLink(settings)
        app[LINK_KEY] = link
        await link.start(connect_wait_s)
        yield
        await link.close()

    app.cleanup_ctx.append(kafka_link)
    app.router.add_post(EVENTS_ROUTE, post_events)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/openapi.json", openapi)
    return app
