"""`sessionizer collect`: the HTTP collector (POST /v1/events into the raw topic)."""

from __future__ import annotations

import argparse

from aiohttp import web

from ingest.collector_app import create_collector_app
from sessionizer.settings import Settings

DESCRIPTION = """\
Run the HTTP collector: POST /v1/events takes one raw event or a JSON array of up to 500
(at most 1 MiB; Content-Type application/json or text/plain, as navigator.sendBeacon sends),
stamps received_at, validates each event, produces the valid ones to the raw topic (key
session_id) and answers once Kafka acknowledged them:
  200 {"accepted": n, "rejected": [{"index": i, "reason": ..., "message": ...}]}
413 for a body over 1 MiB or over 500 events, 400 for a body that is not JSON, 401 without the
bearer token (when SESSIONIZER_COLLECTOR_TOKEN is set), 503 with Retry-After when Kafka is
unavailable. Delivery is at least once per event: a client retries the same batch on 503 and
copies are dropped downstream by event_id. Rejected events are not stored: the answer lists them.

GET /healthz tells whether Kafka is reachable; GET /openapi.json describes the API. CORS
preflights are answered for SESSIONIZER_COLLECTOR_CORS_ORIGINS (a JSON list, "*" for any).
Each request is logged at DEBUG (-v), each rejected event at INFO."""


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "collect",
        help="run the HTTP collector (POST /v1/events into the raw topic)",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--host", metavar="ADDR", help="bind address (default: SESSIONIZER_COLLECTOR_HOST)"
    )
    parser.add_argument(
        "--port", type=int, metavar="PORT", help="port (default: SESSIONIZER_COLLECTOR_PORT)"
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    host = args.host or settings.collector_host
    port = settings.collector_port if args.port is None else args.port
    app = create_collector_app(settings)
    web.run_app(app, host=host, port=port, access_log=None, print=None)
    return 0
