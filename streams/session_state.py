"""One session's fold state (SPEC section 3): plain data, no I/O, no logic beyond constructors.

Times are kept as epoch milliseconds (``int``) and only turned into RFC 3339 text when a
snapshot is made. ``llm_cost_estimate`` and each detail's ``cost`` are exact ``Decimal``s.
The state is mutated in place by :mod:`streams.session_fold`.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from decimal import MAX_EMAX, MAX_PREC, MIN_EMIN, Context, Decimal
from typing import Any

from streams.recent_event_ids import RECENT_EVENT_IDS, RecentEventIds

__all__ = [
    "ERROR_EVENTS_KEPT",
    "EXACT_DECIMAL",
    "FLUSH_EVERY_PATHS",
    "LLM_INTERACTIONS_KEPT",
    "PATHS_PER_BATCH",
    "RECENT_EVENT_IDS",
    "ZERO",
    "BatchState",
    "RecentEventIds",
    "SessionState",
    "new_session_state",
]

ERROR_EVENTS_KEPT = 20
"""Detail cap of ``error_events`` (the last ones are kept)."""

LLM_INTERACTIONS_KEPT = 100
"""Detail cap of ``llm_interactions`` (the last ones are kept; totals are never capped)."""

PATHS_PER_BATCH = 50
"""A batch is closed and rotated once it holds this many paths."""

FLUSH_EVERY_PATHS = 5
"""A batch is flushed whenever its path count reaches a multiple of this."""

ZERO = Decimal(0)

EXACT_DECIMAL = Context(prec=MAX_PREC, Emax=MAX_EMAX, Emin=MIN_EMIN)
"""Decimal context whose additions and quantizations never round: cost sums stay exact."""


@dataclass(slots=True)
class BatchState:
    """The per-batch fields of the current batch.

    ``error_events`` and ``llm_interactions`` items are final, read-only JSON objects as the
    snapshot shows them (an LLM detail's ``cost`` is the JSON number of the event's cost and its
    ``timestamp`` RFC 3339 text); only ``llm_cost_estimate`` needs exact arithmetic.
    """

    started_at_ms: int | None = None
    ended_at_ms: int | None = None
    path_sequence: list[str] = field(default_factory=list)
    path_timings: list[int] = field(default_factory=list)
    page_load_times: dict[str, int] = field(default_factory=dict)
    error_events: deque[dict[str, Any]] = field(
        default_factory=lambda: deque(maxlen=ERROR_EVENTS_KEPT)
    )
    llm_interactions: deque[dict[str, Any]] = field(
        default_factory=lambda: deque(maxlen=LLM_INTERACTIONS_KEPT)
    )
    llm_token_usage: int = 0
    llm_cost_estimate: Decimal = ZERO
    version: int = 0
    closed: bool = False
    dirty: bool = False


@dataclass(slots=True)
class SessionState:
    """Everything the fold keeps for one session.

    ``recent_event_ids`` holds the last :data:`RECENT_EVENT_IDS` accepted event ids.
    """

    session_id: str
    batch_seq: int = 0
    batch: BatchState = field(default_factory=BatchState)
    interaction_summary: dict[str, int] = field(default_factory=dict)
    goal_events: dict[str, int] = field(default_factory=dict)  # name -> earliest epoch ms
    feature_interactions: dict[str, int] = field(default_factory=dict)
    metadata: dict[str, Any] = field(default_factory=dict)
    user_id: str | None = None
    recent_event_ids: RecentEventIds = field(default_factory=RecentEventIds)
    last_arrival_ms: int | None = None


def new_session_state(session_id: str) -> SessionState:
    """The state of a session that has accepted no event yet."""
    return SessionState(session_id=session_id)
