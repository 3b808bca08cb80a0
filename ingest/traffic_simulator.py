"""Seeded synthetic traffic: sessions drawn, encoded and interleaved like real collector traffic.

``TrafficSimulator(config).records()`` yields :class:`~ingest.simulated_wire.SimulatedRecord`\\ s
in arrival order: sessions start as a Poisson process from ``config.start_ms`` and run
concurrently, so their events interleave; one session's records always keep their own order.
Each session draws from its own ``random.Random`` seeded from the master seed, so one seed gives
the same bytes, whatever the reader does with them. No wall clock, no I/O.

:attr:`TrafficSimulator.summary` counts what was generated (sessions, records by kind, gaps),
so that tests can compare the fold of the output with what the simulator meant to produce.
"""

from __future__ import annotations

import heapq
import random
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from ingest.accepted_event import RejectReason
from ingest.simulated_bad_records import FILE_KINDS
from ingest.simulated_sessions import (
    KIND_WEIGHTS,
    SessionContext,
    SessionKind,
    SessionPlanner,
    plan_session,
)
from ingest.simulated_wire import (
    DUPLICATE,
    VALID,
    SessionWire,
    SimulatedRecord,
    draw_client_clock,
    encode_session,
    random_uuid,
)

DEFAULT_START_MS = int(datetime(2026, 11, 25, 8, 0, tzinfo=UTC).timestamp() * 1000)
"""A fixed base time, so that one seed always gives the same bytes."""

METADATA_KEYS = ("workspace_id", "plan", "team_id", "workspace_size", "experiment_variant")
PLANS = ("free", "free", "starter", "pro", "pro", "enterprise")
WORKSPACE_SIZES = ("solo", "small", "medium", "large")
VARIANTS = ("control", "treatment_a", "treatment_b")


@dataclass(frozen=True, slots=True)
class SimulationConfig:
    """What to generate. Exactly one of ``sessions`` and ``events`` bounds the run.

    ``events`` stops after that many records (sessions in flight are cut, as a time window
    cuts real traffic); ``sessions`` generates that many whole sessions.
    ``bad_kinds``: the reasons bad records are drawn from (default: every reason a file can
    carry; add ``key_mismatch`` only when producing to Kafka).
    """

    seed: int = 0
    sessions: int | None = None
    events: int | None = None
    start_ms: int = DEFAULT_START_MS
    sessions_per_minute: float = 120.0
    bad_share: float = 0.01
    duplicate_share: float = 0.01
    bad_kinds: tuple[RejectReason, ...] = FILE_KINDS
    anonymous_share: float = 0.35
    metadata_keys: tuple[str, ...] = METADATA_KEYS
    workspaces: int = 200
    users: int = 5000

    def __post_init__(self) -> None:
        if (self.sessions is None) == (self.events is None):
            raise ValueError("give exactly one of sessions and events")
        if (self.sessions or 0) < 0 or (self.events or 0) < 0:
            raise ValueError("sessions and events must not be negative")
        for name in ("bad_share", "duplicate_share", "anonymous_share"):
            share = getattr(self, name)
            if not 0.0 <= share <= 1.0:
                raise ValueError(f"{name} must be between 0 and 1, not {share}")
        if self.sessions_per_minute <= 0:
            raise ValueError("sessions_per_minute must be positive")
        if self.workspaces < 1 or self.users < 1:
            raise ValueError("workspaces and users must be at least 1")
        unknown = set(self.metadata_keys) - set(METADATA_KEYS)
        if unknown:
            raise ValueError(f"unknown metadata keys: {', '.join(sorted(unknown))}")


@dataclass(slots=True)
class SimulationSummary:
    """What the simulator generated (records, not lines of a cut run, are counted)."""

    sessions: int = 0
    anonymous_sessions: int = 0
    records: Counter[str] = field(default_factory=Counter)  # kind -> records
    sessions_by_kind: Counter[str] = field(default_factory=Counter)
    idle_gaps: int = 0  # silences over 30 minutes inside sessions

    @property
    def events(self) -> int:
        return sum(self.records.values())

    @property
    def bad(self) -> dict[str, int]:
        return {k: n for k, n in self.records.items() if k not in (VALID, DUPLICATE)}

    def describe(self) -> str:
        """A few lines for humans (stderr)."""
        bad = self.bad
        bad_text = ", ".join(f"{k} {n}" for k, n in sorted(bad.items())) or "none"
        kinds = ", ".join(f"{k} {n}" for k, n in sorted(self.sessions_by_kind.items()))
        return (
            f"{self.sessions} sessions ({self.anonymous_sessions} anonymous; {kinds}), "
            f"{self.events} records: {self.records[VALID]} valid events, "
            f"{self.records[DUPLICATE]} duplicates, {sum(bad.values())} bad ({bad_text}); "
            f"{self.idle_gaps} idle gaps over 30 minutes"
        )


@dataclass(frozen=True, slots=True)
class _Drawn:
    kind: SessionKind
    anonymous: bool
    planner: SessionPlanner


@dataclass(frozen=True, slots=True)
class _Workspace:
    workspace_id: str
    plan: str
    team_id: str
    size: str


class TrafficSimulator:
    """Generates the records of one configuration; iterate :meth:`records` once."""

    def __init__(self, config: SimulationConfig) -> None:
        self.config = config
        self.summary = SimulationSummary()
        master = random.Random(config.seed)
        self._master = master
        self._workspaces = [
            _Workspace(
                f"ws_{index:04d}",
                master.choice(PLANS),
                f"team_{master.randrange(max(1, config.workspaces // 3)):04d}",
                master.choice(WORKSPACE_SIZES),
            )
            for index in range(config.workspaces)
        ]
        self._users = [random_uuid(master) for _ in range(config.users)]
        self._kinds = [kind for kind, _ in KIND_WEIGHTS]
        self._weights = [weight for _, weight in KIND_WEIGHTS]

    def _context(self, rng: random.Random) -> tuple[SessionContext, bool]:
        config = self.config
        anonymous = rng.random() < config.anonymous_share
        user_index = rng.randrange(config.users)
        workspace = self._workspaces[user_index % config.workspaces]
        values: dict[str, Any] = {
            "workspace_id": workspace.workspace_id,
            "plan": workspace.plan,
            "team_id": workspace.team_id,
            "workspace_size": workspace.size,
            "experiment_variant": VARIANTS[(user_index * 7 + rng.randrange(2)) % len(VARIANTS)],
        }
        if anonymous:
            values = {"plan": "anonymous", "experiment_variant": rng.choice(VARIANTS)}
        metadata = {k: v for k, v in values.items() if k in config.metadata_keys}
        others = tuple(
            self._workspaces[(user_index + step * 17) % config.workspaces].workspace_id
            for step in range(1, 4)
        )
        context = SessionContext(
            user_id=None if anonymous else self._users[user_index],
            metadata=metadata,
            workspace_ids=() if anonymous else others,
            signup_user_id=random_uuid(rng) if anonymous else None,
        )
        return context, anonymous

    def _session(
        self, start_ms: int, session_seed: int
    ) -> tuple[Iterator[SimulatedRecord], _Drawn]:
        config = self.config
        rng = random.Random(session_seed)
        kind: SessionKind = rng.choices(self._kinds, self._weights)[0]
        context, anonymous = self._context(rng)
        prefix = "anon-" if anonymous else "sess_"
        session_id = prefix + random_uuid(rng)
        planner = SessionPlanner(rng, start_ms)
        wire = SessionWire(
            session_id=session_id,
            user_id=context.user_id,
            clock=draw_client_clock(rng),
            duplicate_share=config.duplicate_share,
            bad_share=config.bad_share,
            bad_kinds=config.bad_kinds,
        )
        records = encode_session(plan_session(kind, context, planner), wire, rng)
        return records, _Drawn(kind, anonymous, planner)

    def _count_session(self, drawn: _Drawn) -> None:
        summary = self.summary
        summary.sessions += 1
        summary.anonymous_sessions += drawn.anonymous
        summary.sessions_by_kind[drawn.kind.value] += 1

    def records(self) -> Iterator[SimulatedRecord]:
        """Every record in arrival order (ties: the earlier-started session first).

        Sessions are generated lazily, a few events ahead of their next record, so a run cut
        by ``events`` generates little it does not emit. The summary counts what has been
        yielded so far: a cut run counts only the sessions and records it emitted (and the
        idle gaps planned so far in them).
        """
        config = self.config
        master = self._master
        summary = self.summary
        counts = summary.records
        limit = config.events
        remaining_sessions = config.sessions
        mean_gap_ms = 60_000.0 / config.sessions_per_minute
        next_start = float(config.start_ms)
        started = 0
        emitted = 0
        unseen: dict[int, _Drawn] = {}  # sessions none of whose records was emitted yet
        running: dict[int, _Drawn] = {}
        # heap of (arrival of the session's next record, session number, record, the rest)
        heap: list[tuple[int, int, SimulatedRecord, Iterator[SimulatedRecord]]] = []
        try:
            while True:
                more_sessions = remaining_sessions is None or started < remaining_sessions
                if more_sessions and (not heap or int(next_start) <= heap[0][0]):
                    records, drawn = self._session(int(next_start), master.getrandbits(64))
                    first = next(records, None)
                    if first is not None:
                        heapq.heappush(heap, (first.arrival_ms, started, first, records))
                        unseen[started] = drawn
                    started += 1
                    next_start += master.expovariate(1.0) * mean_gap_ms
                    continue
                if not heap or (limit is not None and emitted >= limit):
                    return
                _, number, record, rest = heap[0]
                drawn_now = unseen.pop(number, None)
                if drawn_now is not None:
                    self._count_session(drawn_now)
                    running[number] = drawn_now
                counts[record.kind] += 1
                yield record
                emitted += 1
                following = next(rest, None)
                if following is not None:
                    heapq.heapreplace(heap, (following.arrival_ms, number, following, rest))
                else:
                    heapq.heappop(heap)
                    summary.idle_gaps += running.pop(number).planner.gaps
        finally:
            for drawn in running.values():
                summary.idle_gaps += drawn.planner.gaps
            running.clear()
