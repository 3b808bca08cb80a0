"""The offline fold (SPEC 8): raw events as JSON Lines in, the final snapshot of every batch out.

File order is log order. Each non-blank line is validated as the stream would validate it
(offline mode: no key check, arrival falls back to ``ts``), folded into its session, and every
batch's last content is kept: per (``session_id``, ``batch_seq``) the snapshot with the highest
``version`` among the emitted ones and the final current batch. A batch that a rotation opened
and that no event reached (``version`` 0) is never emitted by the stream, so it is not printed.
Pure apart from the caller's iterables and callbacks: no file, no Kafka.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from ingest.accepted_event import Rejection
from ingest.validation import validate_record
from streams.session_fold import apply_event, final_snapshot
from streams.session_state import SessionState
from streams.snapshot import Snapshot

RejectedLineHandler = Callable[[int, Rejection], None]
"""Called with the 1-based line number and the rejection of every rejected line."""

ProgressHandler = Callable[[int], None]
"""Called with the number of lines read so far, every ``progress_every`` lines."""


@dataclass(slots=True)
class FoldSummary:
    """Counts of one offline fold. ``events == accepted + duplicates + sum(rejected)``."""

    lines: int = 0  # every line, blank ones included
    events: int = 0  # non-blank lines
    accepted: int = 0  # valid, non-duplicate events: folded
    duplicates: int = 0  # valid events dropped as duplicates
    rejected: Counter[str] = field(default_factory=Counter)  # reason -> lines
    sessions: int = 0
    batches: int = 0  # snapshots in the output

    def describe(self) -> str:
        """One line for humans, e.g. for stderr."""
        rejected = sum(self.rejected.values())
        reasons = ", ".join(f"{reason} {count}" for reason, count in sorted(self.rejected.items()))
        return (
            f"{self.lines} lines, {self.events} events: {self.accepted} accepted, "
            f"{self.duplicates} duplicates, {rejected} rejected"
            + (f" ({reasons})" if reasons else "")
            + f"; {self.sessions} sessions, {self.batches} batches"
        )


@dataclass(slots=True)
class FoldResult:
    """The snapshots to print, sorted by ``session_id`` then ``batch_seq``, and the counts."""

    snapshots: list[Snapshot]
    summary: FoldSummary


def _line_value(raw: bytes) -> bytes:
    """A line without its terminator (``\\n`` or ``\\r\\n``)."""
    if raw.endswith(b"\n"):
        raw = raw[:-1]
        if raw.endswith(b"\r"):
            raw = raw[:-1]
    return raw


def is_blank(value: bytes) -> bool:
    """Whether a line holds nothing but ASCII whitespace (it is skipped, not an event)."""
    return not value.strip()


class OfflineFold:
    """Folds raw event lines one at a time; :meth:`result` gives what ``fold`` prints."""

    def __init__(self, *, gap_ms: int) -> None:
        self._gap_ms = gap_ms
        self._states: dict[str, SessionState] = {}
        self._latest: dict[tuple[str, int], Snapshot] = {}
        self.summary = FoldSummary()

    def _keep(self, snapshot: Snapshot) -> None:
        key = (snapshot["session_id"], snapshot["batch_seq"])
        kept = self._latest.get(key)
        if kept is None or kept["version"] < snapshot["version"]:
            self._latest[key] = snapshot

    def add_line(self, raw: bytes) -> Rejection | None:
        """Fold one line (terminator optional); the rejection if the line was rejected."""
        summary = self.summary
        summary.lines += 1
        value = _line_value(raw)
        if is_blank(value):
            return None
        summary.events += 1
        checked = validate_record(value)
        if isinstance(checked, Rejection):
            summary.rejected[checked.reason.value] += 1
            return checked
        states = self._states
        outcome = apply_event(states.get(checked.session_id), checked, gap_ms=self._gap_ms)
        if outcome.duplicate:
            summary.duplicates += 1
            return None
        summary.accepted += 1
        states[checked.session_id] = outcome.state
        for snapshot in outcome.snapshots:
            self._keep(snapshot)
        return None

    def result(self) -> FoldResult:
        """The final snapshot of every batch, sorted; the fold can go on afterwards."""
        latest = dict(self._latest)
        for state in self._states.values():
            snapshot = final_snapshot(state)
            if snapshot is not None:
                key = (snapshot["session_id"], snapshot["batch_seq"])
                kept = latest.get(key)
                if kept is None or kept["version"] < snapshot["version"]:
                    latest[key] = snapshot
        self.summary.sessions = len(self._states)
        self.summary.batches = len(latest)
        return FoldResult([latest[key] for key in sorted(latest)], self.summary)


def fold_lines(
    lines: Iterable[bytes],
    *,
    gap_ms: int,
    on_rejected: RejectedLineHandler | None = None,
    on_progress: ProgressHandler | None = None,
    progress_every: int = 100_000,
) -> FoldResult:
    """Fold JSON Lines (file order = log order) into the final snapshot of every batch."""
    fold = OfflineFold(gap_ms=gap_ms)
    for number, raw in enumerate(lines, start=1):
        rejection = fold.add_line(raw)
        if rejection is not None and on_rejected is not None:
            on_rejected(number, rejection)
        if on_progress is not None and number % progress_every == 0:
            on_progress(number)
    return fold.result()
