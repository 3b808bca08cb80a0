"""The OpenAPI 3.1 description of the HTTP collector, served at ``/openapi.json``."""

from __future__ import annotations

from typing import Any, get_args

from ingest.accepted_event import EventType, RejectReason
from ingest.collector_body import MAX_BODY_BYTES, MAX_EVENTS

EVENT_TYPES = list(get_args(EventType))


def _error(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    }


def build_openapi(*, token_required: bool) -> dict[str, Any]:
    """The API description; ``token_required`` adds the bearer security scheme."""
    event_schema: dict[str, Any] = {
        "type": "object",
        "description": (
            "A raw event, version 1 (SPEC section 2). Only the common fields are listed; each "
            "type has its own required fields. Unknown fields are ignored. The collector sets "
            "received_at."
        ),
        "required": ["event_id", "session_id", "type", "ts"],
        "properties": {
            "event_id": {"type": "string", "format": "uuid", "description": "Idempotency key."},
            "session_id": {"type": "string", "minLength": 1, "maxLength": 128},
            "type": {"type": "string", "enum": EVENT_TYPES},
            "ts": {"type": "string", "format": "date-time", "description": "Client time."},
            "sent_at": {"type": "string", "format": "date-time"},
            "user_id": {"type": ["string", "null"], "format": "uuid"},
            "path": {"type": "string", "minLength": 1, "maxLength": 2048},
            "metadata": {"type": "object"},
        },
        "additionalProperties": True,
    }
    operation: dict[str, Any] = {
        "operationId": "postEvents",
        "summary": "Send one event or a batch of events",
        "description": (
            f"One event object or an array of up to {MAX_EVENTS} events, at most "
            f"{MAX_BODY_BYTES} bytes. Content-Type application/json or text/plain (what "
            "navigator.sendBeacon sends). Each event is stamped with received_at, validated, "
            "and the valid ones are produced to Kafka; the answer comes once Kafka has "
            "acknowledged all of them. Rejected events are not stored anywhere: the answer "
            "lists them. Delivery is at least once per event: on 503 (or no answer) send the "
            "same batch again; events are de-duplicated downstream by event_id."
        ),
        "requestBody": {
            "required": True,
            "content": {
                media: {
                    "schema": {
                        "oneOf": [
                            {"$ref": "#/components/schemas/Event"},
                            {
                                "type": "array",
                                "maxItems": MAX_EVENTS,
                                "items": {"$ref": "#/components/schemas/Event"},
                            },
                        ]
                    }
                }
                for media in ("application/json", "text/plain")
            },
        },
        "responses": {
            "200": {
                "description": "Valid events acknowledged by Kafka; rejected ones listed.",
                "content": {
                    "application/json": {"schema": {"$ref": "#/components/schemas/Accepted"}}
                },
            },
            "400": _error("The body is not JSON, or not an object or array."),
            "401": _error("A bearer token is configured and was not given or is wrong."),
            "413": _error(f"Body over {MAX_BODY_BYTES} bytes or over {MAX_EVENTS} events."),
            "415": _error("Content-Type is neither application/json nor text/plain."),
            "503": {
                **_error("Kafka is unavailable; retry the same batch after Retry-After."),
                "headers": {
                    "Retry-After": {"schema": {"type": "integer"}, "description": "Seconds."}
                },
            },
        },
    }
    if token_required:
        operation["security"] = [{"bearer": []}]
    components: dict[str, Any] = {
        "schemas": {
            "Event": event_schema,
            "Accepted": {
                "type": "object",
                "required": ["accepted", "rejected"],
                "properties": {
                    "accepted": {"type": "integer", "minimum": 0},
                    "rejected": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "required": ["index", "reason", "message"],
                            "properties": {
                                "index": {
                                    "type": "integer",
                                    "description": "Position in the posted array (0 for one).",
                                },
                                "reason": {
                                    "type": "string",
                                    "enum": [reason.value for reason in RejectReason],
                                },
                                "message": {"type": "string"},
                            },
                        },
                    },
                },
            },
            "Error": {
                "type": "object",
                "required": ["error", "message"],
                "properties": {"error": {"type": "string"}, "message": {"type": "string"}},
            },
            "Health": {
                "type": "object",
                "properties": {
                    "status": {"type": "string", "enum": ["ok", "unavailable"]},
                    "kafka": {"type": "string", "enum": ["reachable", "unreachable"]},
                },
            },
        }
    }
    if token_required:
        components["securitySchemes"] = {"bearer": {"type": "http", "scheme": "bearer"}}
    health_content = {"application/json": {"schema": {"$ref": "#/components/schemas/Health"}}}
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "sessionizer collector",
            "version": "1",
            "description": "Receives raw behavioural events and produces them to Kafka.",
        },
        "paths": {
            "/v1/events": {"post": operation},
            "/healthz": {
                "get": {
                    "operationId": "health",
                    "summary": "Whether Kafka is reachable",
                    "responses": {
                        "200": {"description": "Kafka is reachable.", "content": health_content},
                        "503": {"description": "Kafka is unreachable.", "content": health_content},
                    },
                }
            },
            "/openapi.json": {
                "get": {
                    "operationId": "openapi",
                    "summary": "This document",
                    "responses": {"200": {"description": "The OpenAPI document."}},
                }
            },
        },
        "components": components,
    }
