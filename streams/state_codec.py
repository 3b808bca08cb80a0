"""Session state <-> bytes, for the worker's table and changelog.

Compact JSON (UTF-8, ``surrogatepass`` so no string can make encoding fail). Exact: every
``Decimal`` (the cost total) travels as its string form, so it comes back with the same digits
and exponent; other numbers are JSON integers or floats, which round-trip exactly.
``decode_state(encode_state(s))`` equals ``s``.

Format 2 (written): the remembered event ids are one base64 string of
:meth:`streams.recent_event_ids.RecentEventIds.to_bytes`. Format 1 (still read, so that a
changelog written before the change keeps its state): the ids are a JSON list of strings,
oldest first.
"""

from __future__ import annotations

import binascii
import json
from collections import deque
from decimal import Decimal

from streams.json_bytes import compact_json
from streams.session_state import (
    ERROR_EVENTS_KEPT,
    LLM_INTERACTIONS_KEPT,
    BatchState,
    RecentEventIds,
    SessionState,
)

STATE_FORMAT = 2
"""Bumped whenever the encoded layout changes; decode reads this one and the ones below."""

READABLE_FORMATS = frozenset({1, STATE_FORMAT})
"""Formats :func:`decode_state` reads: 1 (event ids as a list of strings) and the current one."""


class StateDecodeError(ValueError):
    """Bytes that are not an encoded session state of this format."""


def encode_state(state: SessionState) -> bytes:
    """Compact, exact JSON bytes of a session state."""
    batch = state.batch
    document = {
        "f": STATE_FORMAT,
        "sid": state.session_id,
        "seq": state.batch_seq,
        "uid": state.user_id,
        "arr": state.last_arrival_ms,
        "ids": binascii.b2a_base64(state.recent_event_ids.to_bytes(), newline=False).decode(
            "ascii"
        ),
        "int": state.interaction_summary,
        "goal": state.goal_events,
        "feat": state.feature_interactions,
        "meta": state.metadata,
        "b": [
            batch.started_at_ms,
            batch.ended_at_ms,
            batch.path_sequence,
            batch.path_timings,
            batch.page_load_times,
            list(batch.error_events),
            list(batch.llm_interactions),
            batch.llm_token_usage,
            str(batch.llm_cost_estimate),
            batch.version,
            batch.closed,
            batch.dirty,
        ],
    }
    return compact_json(document)


def decode_state(data: bytes) -> SessionState:
    """The session state that :func:`encode_state` encoded."""
    try:
        document = json.loads(data.decode("utf-8", "surrogatepass"))
        state_format = document.get("f")
        if type(state_format) is not int or state_format not in READABLE_FORMATS:
            raise StateDecodeError(f"unknown session state format {document.get('f')!r}")
        (
            started_at_ms,
            ended_at_ms,
            path_sequence,
            path_timings,
            page_load_times,
            error_events,
            llm_interactions,
            llm_token_usage,
            llm_cost_estimate,
            version,
            closed,
            dirty,
        ) = document["b"]
        batch = BatchState(
            started_at_ms=started_at_ms,
            ended_at_ms=ended_at_ms,
            path_sequence=path_sequence,
            path_timings=path_timings,
            page_load_times=page_load_times,
            error_events=deque(error_events, maxlen=ERROR_EVENTS_KEPT),
            llm_interactions=deque(llm_interactions, maxlen=LLM_INTERACTIONS_KEPT),
            llm_token_usage=llm_token_usage,
            llm_cost_estimate=Decimal(llm_cost_estimate),
            version=version,
            closed=closed,
            dirty=dirty,
        )
        ids = document["ids"]
        if state_format == 1:
            if type(ids) is not list or not all(type(i) is str for i in ids):
                raise StateDecodeError("format 1 event ids are not a list of strings")
            recent = RecentEventIds(ids)
        else:
            if type(ids) is not str:
                raise StateDecodeError("event ids are not a base64 string")
            recent = RecentEventIds.from_bytes(binascii.a2b_base64(ids, strict_mode=True))
        return SessionState(
            session_id=document["sid"],
            batch_seq=document["seq"],
            batch=batch,
            interaction_summary=document["int"],
            goal_events=document["goal"],
            feature_interactions=document["feat"],
            metadata=document["meta"],
            user_id=document["uid"],
            recent_event_ids=recent,
            last_arrival_ms=document["arr"],
        )
    except StateDecodeError:
        raise
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise StateDecodeError(f"not an encoded session state: {exc}") from exc
