"""The fold (SPEC section 3): one accepted event applied to one session's state.

Pure and synchronous. :func:`apply_event` mutates the state in place and returns the snapshots
the event made the session emit (a closing one and/or a flush-now one), in order. The worker
calls :func:`flush_dirty` on its flush interval; the offline fold calls :func:`final_snapshot`
once the input ends.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ingest.accepted_event import AcceptedEvent
from streams.session_state import (
    EXACT_DECIMAL,
    FLUSH_EVERY_PATHS,
    PATHS_PER_BATCH,
    BatchState,
    SessionState,
    new_session_state,
)
from streams.snapshot import Snapshot, cost_number, format_ms, make_snapshot

__all__ = [
    "FoldOutcome",
    "Snapshot",
    "apply_event",
    "final_snapshot",
    "flush_dirty",
    "is_dirty",
]


@dataclass(frozen=True, slots=True)
class FoldOutcome:
    """What applying one event did.

    ``state`` is the session's state after the event (the same object as the input state
    when there was one: it is mutated in place). ``snapshots`` are emitted in order.
    ``duplicate`` is true when the event was dropped as a duplicate and nothing changed.
    """

    state: SessionState
    snapshots: list[Snapshot]
    duplicate: bool


class MissingEventField(ValueError):
    """An accepted event lacks a field its type requires (a validation bug, never bad input)."""


def _required(value: Any, event: AcceptedEvent, name: str) -> Any:
    if value is None:
        raise MissingEventField(f"{event.type} event {event.event_id} has no {name}")
    return value


def _close(state: SessionState) -> Snapshot:
    """Close the current batch and return its closing snapshot; the caller replaces it."""
    batch = state.batch
    batch.closed = True
    batch.version += 1
    batch.dirty = False
    return make_snapshot(state)


def apply_event(state: SessionState | None, event: AcceptedEvent, *, gap_ms: int) -> FoldOutcome:
    """Apply one accepted event to a session's state (None: the session is new).

    ``gap_ms`` is GAP in milliseconds; 0 disables the gap rule.
    """
    if state is None:
        state = new_session_state(event.session_id)
    event_id = event.event_id
    if state.recent_event_ids.contains(event_id):
        return FoldOutcome(state, [], True)

    snapshots: list[Snapshot] = []
    t = event.event_time_ms
    arrival = event.arrival_ms
    batch = state.batch

    # 1. Gap.
    last_arrival = state.last_arrival_ms
    if gap_ms > 0 and last_arrival is not None and arrival - last_arrival > gap_ms:
        if batch.version >= 1:
            snapshots.append(_close(state))
            state.batch_seq += 1
        batch = state.batch = BatchState()

    # 2. Start.
    started = batch.started_at_ms
    if started is None:
        started = batch.started_at_ms = batch.ended_at_ms = t

    # 3. Location.
    paths = batch.path_sequence
    path = event.path
    path_appended = False
    if path is not None and (not paths or paths[-1] != path):
        paths.append(path)
        batch.path_timings.append(t - started if t > started else 0)
        path_appended = True

    # 4. By type.
    flush_now = False
    kind = event.type
    if kind == "interaction":
        name = _required(event.name, event, "name")
        summary = state.interaction_summary
        summary[name] = summary.get(name, 0) + 1
    elif kind == "feature_use":
        name = _required(event.name, event, "name")
        features = state.feature_interactions
        features[name] = features.get(name, 0) + 1
    elif kind == "goal":
        name = _required(event.name, event, "name")
        goals = state.goal_events
        first = goals.get(name)
        if first is None or t < first:
            goals[name] = t
        flush_now = True
    elif kind == "page_load":
        page = _required(event.page, event, "page")
        batch.page_load_times[page] = _required(event.load_ms, event, "load_ms")
    elif kind == "error":
        error: dict[str, Any] = {
            "type": _required(event.error_type, event, "error_type"),
            "page": path if path is not None else (paths[-1] if paths else None),
            "time": t - started if t > started else 0,
        }
        if event.message is not None:
            error["message"] = event.message
        batch.error_events.append(error)  # the deque keeps the last ERROR_EVENTS_KEPT
    elif kind == "llm_usage":
        tokens: int = _required(event.tokens, event, "tokens")
        cost = _required(event.cost, event, "cost")
        interaction: dict[str, Any] = {
            "model": _required(event.model, event, "model"),
            "tokens": tokens,
            "cost": cost_number(cost),
            "timestamp": format_ms(t),
        }
        if event.llm_extra:
            interaction.update(event.llm_extra)
        batch.llm_interactions.append(interaction)  # keeps the last LLM_INTERACTIONS_KEPT
        batch.llm_token_usage += tokens
        batch.llm_cost_estimate = EXACT_DECIMAL.add(batch.llm_cost_estimate, cost)
    elif kind == "session_end":
        flush_now = True
    # page_view, context: nothing more.

    # 5. Context.
    metadata = event.metadata
    if metadata:
        state.metadata.update(metadata)
    if event.user_id is not None:
        state.user_id = event.user_id

    # 6. Bookkeeping.
    ended = batch.ended_at_ms
    if ended is None or t > ended:
        batch.ended_at_ms = t
    batch.version += 1
    batch.dirty = True
    state.recent_event_ids.remember(event_id)  # forgets the oldest beyond RECENT_EVENT_IDS
    state.last_arrival_ms = arrival

    # 7. Flush every FLUSH_EVERY_PATHS-th path.
    if path_appended and len(paths) % FLUSH_EVERY_PATHS == 0:
        flush_now = True

    # 8. Rotation.
    if len(paths) >= PATHS_PER_BATCH:
        snapshots.append(_close(state))
        state.batch_seq += 1
        state.batch = BatchState(
            started_at_ms=t, ended_at_ms=t, path_sequence=[paths[-1]], path_timings=[0]
        )

    # 9. Flush now.
    if flush_now and state.batch.dirty:
        state.batch.dirty = False
        snapshots.append(make_snapshot(state))

    return FoldOutcome(state, snapshots, False)


def is_dirty(state: SessionState) -> bool:
    """Whether the current batch changed since it was last emitted."""
    return state.batch.dirty


def flush_dirty(state: SessionState) -> list[Snapshot]:
    """Interval flush: the current batch's snapshot if it is dirty (then it is not)."""
    if not state.batch.dirty:
        return []
    state.batch.dirty = False
    return [make_snapshot(state)]


def final_snapshot(state: SessionState) -> Snapshot | None:
    """The current batch's snapshot if any event was applied to it, else None."""
    if state.batch.version < 1:
        return None
    return make_snapshot(state)
