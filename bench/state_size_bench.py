"""Size and codec speed of decoded session states, over folded simulated traffic.

    .venv/bin/python bench/state_size_bench.py [--sessions 3000] [--seed 0] [--repeats 5]

Generates seeded traffic (the simulator of ``sessionizer simulate``, whole sessions), folds it
as the offline fold does (validation, then :func:`streams.session_fold.apply_event`), and
takes every session's final state through ``decode_state(encode_state(state))``: the object
the worker's decoded-state cache holds. Prints, per state: the deep size in Python (a
recursive ``sys.getsizeof`` walk, each object counted once), the remembered event ids, the
encoded size, ``encode_state`` / ``decode_state`` microseconds per call (the median of
``--repeats`` passes over all states), and the fold's microseconds per accepted event
(``apply_event`` alone, validation done beforehand; duplicates included, as in the traffic).
Last, the fold's duplicate check alone (``contains``, then ``remember`` when new), for
:class:`~streams.recent_event_ids.RecentEventIds` and for the layout it replaced (a deque of
``str`` plus a set, rebuilt here for comparison): per event of the traffic, and per new id
with 512 ids remembered (the worst case: the whole ring is scanned). No Kafka, no Postgres;
one process, one core.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ingest.accepted_event import AcceptedEvent, Rejection
from ingest.traffic_simulator import SimulationConfig, TrafficSimulator
from ingest.validation import validate_record
from streams.session_fold import apply_event
from streams.session_state import RECENT_EVENT_IDS, RecentEventIds, SessionState
from streams.state_codec import decode_state, encode_state

GAP_MS = 30 * 60_000
SHARED = (None, True, False)


def _referents(obj: Any) -> Iterator[Any]:
    """The objects ``obj`` holds (containers, ``__dict__`` and ``__slots__`` attributes)."""
    if isinstance(obj, str | bytes | bytearray | int | float):
        return
    if isinstance(obj, dict):
        for key, value in obj.items():
            yield key
            yield value
        return
    if isinstance(obj, list | tuple | set | frozenset) or type(obj).__name__ == "deque":
        yield from obj
        return
    if hasattr(obj, "__dict__"):
        yield obj.__dict__
    for klass in type(obj).__mro__:
        for name in getattr(klass, "__slots__", ()):
            if name not in ("__dict__", "__weakref__") and hasattr(obj, name):
                yield getattr(obj, name)


def deep_size(root: object) -> int:
    """Bytes of ``root`` and everything it holds, each object once (None and bools excluded)."""
    seen: set[int] = set()
    pending = [root]
    total = 0
    while pending:
        obj = pending.pop()
        if any(obj is shared for shared in SHARED) or id(obj) in seen:
            continue
        seen.add(id(obj))
        total += sys.getsizeof(obj)
        pending.extend(_referents(obj))
    return total


def accepted_events(sessions: int, seed: int) -> list[AcceptedEvent]:
    """The valid events of the simulated traffic (duplicates included), in log order."""
    simulator = TrafficSimulator(SimulationConfig(seed=seed, sessions=sessions))
    checked = (validate_record(record.value) for record in simulator.records())
    return [event for event in checked if not isinstance(event, Rejection)]


def fold_all(events: list[AcceptedEvent]) -> list[SessionState]:
    """The final state of every session."""
    states: dict[str, SessionState] = {}
    for event in events:
        outcome = apply_event(states.get(event.session_id), event, gap_ms=GAP_MS)
        states[event.session_id] = outcome.state
    return list(states.values())


def per_call_us(repeats: int, work: Any, items: list[Any]) -> float:
    """Median over ``repeats`` passes of the microseconds per call of ``work`` on ``items``."""
    passes = []
    for _ in range(repeats):
        start = time.perf_counter()
        for item in items:
            work(item)
        passes.append((time.perf_counter() - start) / len(items) * 1e6)
    return statistics.median(passes)


class StrIdsReference:
    """The layout before RecentEventIds: a deque of id strings plus a set of them."""

    __slots__ = ("ids", "seen")

    def __init__(self) -> None:
        self.ids: deque[str] = deque(maxlen=RECENT_EVENT_IDS)
        self.seen: set[str] = set()

    def contains(self, event_id: str) -> bool:
        return event_id in self.seen

    def remember(self, event_id: str) -> None:
        if len(self.ids) == RECENT_EVENT_IDS:
            self.seen.discard(self.ids[0])
        self.ids.append(event_id)
        self.seen.add(event_id)


IdStore = Callable[[], RecentEventIds | StrIdsReference]


def traffic_check_us(repeats: int, events: list[AcceptedEvent], store: IdStore) -> float:
    """Microseconds per event of the fold's duplicate check (contains, then remember if new)."""
    passes = []
    for _ in range(repeats):
        stores: dict[str, RecentEventIds | StrIdsReference] = {}
        start = time.perf_counter()
        for event in events:
            recent = stores.get(event.session_id)
            if recent is None:
                recent = stores[event.session_id] = store()
            if not recent.contains(event.event_id):
                recent.remember(event.event_id)
        passes.append((time.perf_counter() - start) / len(events) * 1e6)
    return statistics.median(passes)


def full_ring_check_us(repeats: int, store: IdStore) -> float:
    """Microseconds of ``contains`` (a miss) + ``remember`` with 512 ids remembered."""
    recent = store()
    for _ in range(RECENT_EVENT_IDS):
        recent.remember(str(uuid.uuid4()))
    new_ids = [str(uuid.uuid4()) for _ in range(20_000)]

    def check(event_id: str) -> None:
        if not recent.contains(event_id):
            recent.remember(event_id)

    return per_call_us(repeats, check, new_ids)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sessions", type=int, default=3000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()

    events = accepted_events(args.sessions, args.seed)
    fold_passes = []
    for _ in range(args.repeats):
        start = time.perf_counter()
        folded = fold_all(events)
        fold_passes.append((time.perf_counter() - start) / len(events) * 1e6)
    states = [decode_state(encode_state(s)) for s in folded]
    encoded = [encode_state(s) for s in states]
    sizes = [deep_size(s) for s in states]
    ids = [len(s.recent_event_ids) for s in states]
    print(f"events                 {len(events):,} valid (duplicates included)")
    print(f"states                 {len(states):,}")
    print(f"remembered ids         mean {statistics.mean(ids):.1f}, max {max(ids)}")
    print(
        f"decoded deep size B    mean {statistics.mean(sizes):,.0f}, "
        f"median {statistics.median(sizes):,.0f}, max {max(sizes):,}"
    )
    print(
        f"encoded size B         mean {statistics.mean(map(len, encoded)):,.0f}, "
        f"median {statistics.median(map(len, encoded)):,.0f}"
    )
    print(f"encode_state us/call   {per_call_us(args.repeats, encode_state, states):.1f}")
    print(f"decode_state us/call   {per_call_us(args.repeats, decode_state, encoded):.1f}")
    print(f"fold us/event          {statistics.median(fold_passes):.2f}")
    for name, store in (("RecentEventIds", RecentEventIds), ("str deque+set", StrIdsReference)):
        traffic = traffic_check_us(args.repeats, events, store)
        full = full_ring_check_us(args.repeats, store)
        print(f"id check us, {name:15}traffic {traffic:.2f}/event, 512 ids {full:.2f}")


if __name__ == "__main__":
    main()
