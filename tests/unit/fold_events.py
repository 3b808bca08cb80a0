"""Builders for the fold's unit tests: AcceptedEvents made directly, and small fold drivers."""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from ingest.accepted_event import AcceptedEvent, EventType
from streams.session_fold import Snapshot, apply_event, final_snapshot, flush_dirty
from streams.session_state import SessionState

BASE_MS = 1_795_600_800_000
"""2026-11-25T10:00:00.000Z in epoch milliseconds."""

GAP_MS = 1_800_000
SESSION = "s-test"

_ids = itertools.count(1)


def fresh_id() -> str:
    """A new lower-case UUID, never handed out before in this process."""
    return str(uuid.UUID(int=next(_ids)))


def event(
    kind: EventType,
    at_ms: int = 0,
    *,
    arrival_ms: int | None = None,
    event_id: str | None = None,
    session_id: str = SESSION,
    **fields: Any,
) -> AcceptedEvent:
    """An accepted event ``at_ms`` after :data:`BASE_MS` (arrival: the same unless given)."""
    if "cost" in fields and not isinstance(fields["cost"], Decimal):
        fields["cost"] = Decimal(fields["cost"])
    return AcceptedEvent(
        event_id=event_id or fresh_id(),
        session_id=session_id,
        type=kind,
        event_time_ms=BASE_MS + at_ms,
        arrival_ms=BASE_MS + (at_ms if arrival_ms is None else arrival_ms),
        **fields,
    )


def page(path: str, at_ms: int = 0, **fields: Any) -> AcceptedEvent:
    return event("page_view", at_ms, path=path, **fields)


def llm(cost: str, tokens: int = 1, at_ms: int = 0, **fields: Any) -> AcceptedEvent:
    return event("llm_usage", at_ms, model="m", tokens=tokens, cost=Decimal(cost), **fields)


def fold(
    events: Iterable[AcceptedEvent],
    *,
    gap_ms: int = GAP_MS,
    state: SessionState | None = None,
) -> tuple[SessionState, list[Snapshot]]:
    """Apply ``events`` in order; the last state and every emitted snapshot, in order."""
    emitted: list[Snapshot] = []
    for item in events:
        outcome = apply_event(state, item, gap_ms=gap_ms)
        state = outcome.state
        emitted.extend(outcome.snapshots)
    assert state is not None, "fold() needs at least one event"
    return state, emitted


def last_per_batch(emitted: Iterable[Snapshot], state: SessionState | None) -> list[Snapshot]:
    """Per batch_seq the highest-version snapshot among ``emitted`` and the final batch."""
    kept: dict[int, Snapshot] = {}
    candidates = list(emitted)
    if state is not None:
        final = final_snapshot(state)
        if final is not None:
            candidates.append(final)
    for snapshot in candidates:
        seq = snapshot["batch_seq"]
        if seq not in kept or kept[seq]["version"] < snapshot["version"]:
            kept[seq] = snapshot
    return [kept[seq] for seq in sorted(kept)]


def fold_to_batches(
    events: Iterable[AcceptedEvent], *, gap_ms: int = GAP_MS, flush_after: Iterable[bool] = ()
) -> list[Snapshot]:
    """Final snapshot of every batch; ``flush_after[i]`` calls flush_dirty after event i."""
    state: SessionState | None = None
    emitted: list[Snapshot] = []
    flushes = iter(flush_after)
    for item in events:
        outcome = apply_event(state, item, gap_ms=gap_ms)
        state = outcome.state
        emitted.extend(outcome.snapshots)
        if next(flushes, False):
            emitted.extend(flush_dirty(state))
    return last_per_batch(emitted, state)
