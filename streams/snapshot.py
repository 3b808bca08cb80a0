"""Batch snapshots (SPEC sections 4 and 5): built from a session state only when emitted.

A snapshot is a JSON-ready ``dict`` with exactly the SPEC 5 keys. Its lists and dicts are fresh
copies, so later folding never changes an emitted snapshot; leaf objects (error events, LLM
details, metadata values) are shared with the state and must be treated as read-only.
"""

from __future__ import annotations

import functools
import hashlib
import uuid
from datetime import date
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from streams.json_bytes import compact_json
from streams.session_state import EXACT_DECIMAL, SessionState

Snapshot = dict[str, Any]

BATCH_ID_NAMESPACE = uuid.UUID("9e05bf9a-aea3-586d-a760-652c572132f7")
_NAMESPACE_BYTES = BATCH_ID_NAMESPACE.bytes

SNAPSHOT_KEYS = (
    "session_id",
    "batch_seq",
    "batch_id",
    "user_id",
    "started_at",
    "ended_at",
    "path_sequence",
    "path_timings",
    "entry_point",
    "exit_point",
    "interaction_summary",
    "goal_events",
    "feature_interactions",
    "page_load_times",
    "error_events",
    "llm_interactions",
    "llm_token_usage",
    "llm_cost_estimate",
    "metadata",
    "session_type",
    "conversion_achieved",
    "version",
    "closed",
)

_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()
_COST_QUANTUM = Decimal("0.0001")


@functools.lru_cache(maxsize=4096)
def _day_prefix(days: int) -> str:
    day = date.fromordinal(_EPOCH_ORDINAL + days)
    return f"{day.year:04d}-{day.month:02d}-{day.day:02d}T"


def format_ms(epoch_ms: int) -> str:
    """RFC 3339 UTC with exactly three fraction digits and ``Z``: ``2026-11-25T10:00:00.120Z``."""
    seconds, millis = divmod(epoch_ms, 1000)
    days, second_of_day = divmod(seconds, 86_400)
    hour, rest = divmod(second_of_day, 3600)
    minute, second = divmod(rest, 60)
    return f"{_day_prefix(days)}{hour:02d}:{minute:02d}:{second:02d}.{millis:03d}Z"


@functools.lru_cache(maxsize=8192)
def batch_id(session_id: str, batch_seq: int) -> str:
    """UUIDv5 of ``"{session_id}:{batch_seq}"`` in the batch namespace.

    Equal to ``str(uuid.uuid5(BATCH_ID_NAMESPACE, name))``, without the UUID object, and
    remembered for the batches snapshotted lately (a batch is snapshotted many times).
    """
    name = f"{session_id}:{batch_seq}".encode()
    digest = bytearray(hashlib.sha1(_NAMESPACE_BYTES + name, usedforsecurity=False).digest()[:16])
    digest[6] = (digest[6] & 0x0F) | 0x50  # version 5
    digest[8] = (digest[8] & 0x3F) | 0x80  # RFC 4122 variant
    h = digest.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def format_cost_total(total: Decimal) -> str:
    """Exactly four decimal places, half-even: ``Decimal("0.015")`` -> ``"0.0150"``."""
    return str(total.quantize(_COST_QUANTUM, rounding=ROUND_HALF_EVEN, context=EXACT_DECIMAL))


def cost_number(cost: Decimal) -> int | float:
    """The JSON number equal to an event's ``cost`` (an integer when it was written as one)."""
    text = str(cost)
    return float(text) if "." in text or "E" in text else int(text)


def session_type(state: SessionState) -> str:
    """``conversion``, ``bounce``, ``exploration`` or ``standard`` (SPEC 4)."""
    if state.goal_events:
        return "conversion"
    paths = len(state.batch.path_sequence)
    if paths == 1 and sum(state.interaction_summary.values()) < 2:
        return "bounce"
    if paths > 5:
        return "exploration"
    return "standard"


def make_snapshot(state: SessionState) -> Snapshot:
    """The snapshot of the session's current batch, with its derived fields."""
    batch = state.batch
    paths = batch.path_sequence
    return {
        "session_id": state.session_id,
        "batch_seq": state.batch_seq,
        "batch_id": batch_id(state.session_id, state.batch_seq),
        "user_id": state.user_id,
        "started_at": None if batch.started_at_ms is None else format_ms(batch.started_at_ms),
        "ended_at": None if batch.ended_at_ms is None else format_ms(batch.ended_at_ms),
        "path_sequence": list(paths),
        "path_timings": list(batch.path_timings),
        "entry_point": paths[0] if paths else None,
        "exit_point": paths[-1] if paths else None,
        "interaction_summary": dict(state.interaction_summary),
        "goal_events": {name: format_ms(ms) for name, ms in state.goal_events.items()},
        "feature_interactions": dict(state.feature_interactions),
        "page_load_times": dict(batch.page_load_times),
        "error_events": list(batch.error_events),
        "llm_interactions": list(batch.llm_interactions),
        "llm_token_usage": batch.llm_token_usage,
        "llm_cost_estimate": format_cost_total(batch.llm_cost_estimate),
        "metadata": dict(state.metadata),
        "session_type": session_type(state),
        "conversion_achieved": bool(state.goal_events),
        "version": batch.version,
        "closed": batch.closed,
    }


def encode_snapshot(snapshot: Snapshot) -> bytes:
    """Canonical bytes: sorted keys, compact separators, non-ASCII unescaped, UTF-8."""
    return compact_json(snapshot, sort_keys=True)
