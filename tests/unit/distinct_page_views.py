"""Runs of page views with pairwise different paths, for the fold's path-count rules."""

from __future__ import annotations

from ingest.accepted_event import AcceptedEvent
from tests.unit.fold_events import page


def paths(count: int, *, start: int = 0, step_ms: int = 1000) -> list[AcceptedEvent]:
    """``count`` page views with pairwise different paths, one per ``step_ms``."""
    return [page(f"/p{start + i}", (start + i) * step_ms) for i in range(count)]
