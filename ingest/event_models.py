"""Pydantic v2 models of the raw event, version 1 (SPEC 2.1), discriminated on ``type``.

These models are the declarative form of the contract: ``sessionizer schema events`` prints
their JSON Schema, and ``tests/unit/test_ingest_event_models.py`` checks that they accept and
reject the same field values as the hot path (:mod:`ingest.event_fields`, used by
:func:`ingest.validation.validate_record`, which is several times faster per event and also
does what a schema cannot: sanitizing, strict number decoding, time resolution, key checks).

What the models do not express (see SPEC 2.2-2.4 and ``validate_record``): sanitizing of
U+0000 and lone surrogates, the calendar checks of times (second 60, 30 February), the
arrival/event-time rules, the value size and nesting limits, and the Kafka key check.
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, field_validator

from ingest.event_fields import COUNT_MAX, METADATA_MAX_BYTES, UUID_PATTERN, metadata_size

RFC3339_PATTERN = (
    r"^[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}:[0-9]{2}"
    r"(\.[0-9]+)?([Zz]|[+-][0-9]{2}:[0-9]{2})$"
)
_METADATA_DESCRIPTION = (
    f"A JSON object of at most {METADATA_MAX_BYTES} bytes of UTF-8 as compact JSON, "
    "after sanitizing"
)

Uuid = Annotated[
    str,
    Field(
        pattern=f"^{UUID_PATTERN}$",
        description="UUID, 8-4-4-4-12 hexadecimal digits in either case (stored lower case)",
    ),
]
DateTime = Annotated[
    str,
    Field(
        pattern=RFC3339_PATTERN,
        json_schema_extra={"format": "date-time"},
        description="RFC 3339 date-time with an offset (Z or ±hh:mm); truncated to ms",
    ),
]
Count = Annotated[int, Field(ge=0, le=COUNT_MAX)]


def _text(high: int, description: str | None = None) -> Any:
    return Field(min_length=1, max_length=high, description=description)


class _RawEventBase(BaseModel):
    """Fields every event type has. ``null`` counts as absent; unknown fields are ignored."""

    model_config = ConfigDict(extra="ignore", strict=True, frozen=True)

    event_id: Uuid = Field(description="The idempotency key")
    session_id: Annotated[
        str,
        Field(
            min_length=1,
            max_length=128,
            description="Never sanitized: U+0000 or a lone surrogate makes the event invalid",
        ),
    ]
    ts: DateTime = Field(description="When it happened on the client")
    sent_at: DateTime | None = Field(default=None, description="When the client sent it")
    received_at: DateTime | None = Field(default=None, description="When the collector received it")
    user_id: Uuid | None = None
    path: Annotated[str, _text(2048, "The page the event happened on")] | None = None
    metadata: dict[str, Any] | None = Field(
        default=None,
        description=_METADATA_DESCRIPTION,
    )

    @field_validator("metadata")
    @classmethod
    def _metadata_fits(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        if value is not None and metadata_size(value) > METADATA_MAX_BYTES:
            raise ValueError(f"metadata is over {METADATA_MAX_BYTES} bytes as compact JSON")
        return value


class PageViewEvent(_RawEventBase):
    type: Literal["page_view"]
    path: Annotated[str, _text(2048, "The page the event happened on")]


class InteractionEvent(_RawEventBase):
    type: Literal["interaction"]
    name: Annotated[str, _text(128, "Element label")]


class FeatureUseEvent(_RawEventBase):
    type: Literal["feature_use"]
    name: Annotated[str, _text(128, "Feature name")]


class GoalEvent(_RawEventBase):
    type: Literal["goal"]
    name: Annotated[str, _text(128, "Goal name")]


class PageLoadEvent(_RawEventBase):
    type: Literal["page_load"]
    page: Annotated[str, _text(2048, "A path or an operation label such as chat_response")]
    load_ms: Annotated[int, Field(ge=0, le=3_600_000)]


class ErrorEvent(_RawEventBase):
    type: Literal["error"]
    error_type: Annotated[str, _text(128)]
    message: str | None = Field(default=None, description="Cut to its first 1000 characters")


class LlmUsageEvent(_RawEventBase):
    type: Literal["llm_usage"]
    model: Annotated[str, _text(128)]
    tokens: Count
    cost: Annotated[
        float,
        Field(
            ge=0,
            le=1_000_000,
            allow_inf_nan=False,
            description="USD; kept as the exact decimal of the JSON number as written",
        ),
    ]
    prompt_tokens: Count | None = None
    completion_tokens: Count | None = None
    response_ms: Count | None = None
    stopped: bool | None = None
    chat_id: Annotated[str, _text(128)] | None = None
    message_id: Annotated[str, _text(128)] | None = None
    finish_reason: Annotated[str, _text(64)] | None = None


class ContextEvent(_RawEventBase):
    type: Literal["context"]
    metadata: dict[str, Any] = Field(description=_METADATA_DESCRIPTION)


class SessionEndEvent(_RawEventBase):
    type: Literal["session_end"]


RawEvent = Annotated[
    PageViewEvent
    | InteractionEvent
    | FeatureUseEvent
    | GoalEvent
    | PageLoadEvent
    | ErrorEvent
    | LlmUsageEvent
    | ContextEvent
    | SessionEndEvent,
    Field(discriminator="type"),
]
"""A raw event, version 1: one model per ``type``."""

RAW_EVENT_ADAPTER: TypeAdapter[RawEvent] = TypeAdapter(RawEvent)


def raw_event_json_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of a raw event, version 1."""
    schema = RAW_EVENT_ADAPTER.json_schema(mode="validation")
    schema = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "RawEvent",
        "description": (
            "A raw behavioural event, version 1 (SPEC 2.1). A field whose value is null counts "
            "as absent; unknown fields and fields not belonging to the type are ignored; "
            "integers must be JSON integers; lengths count Unicode code points."
        ),
        **schema,
    }
    json.dumps(schema)  # the schema must be plain JSON
    return schema
