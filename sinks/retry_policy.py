"""Retry with exponential backoff and full jitter, and logging once per state change."""

from __future__ import annotations

import asyncio
import logging
import random
import time
from dataclasses import dataclass, field


@dataclass
class Backoff:
    """Delays ``initial_s * 2**n`` capped at ``max_s``, each drawn uniformly from [d/2, d]."""

    initial_s: float = 0.2
    max_s: float = 10.0
    attempts: int = 0
    rng: random.Random = field(default_factory=random.Random)

    def next_delay(self) -> float:
        ceiling = min(self.max_s, self.initial_s * (2 ** min(self.attempts, 30)))
        self.attempts += 1
        return self.rng.uniform(ceiling / 2, ceiling)

    def reset(self) -> None:
        self.attempts = 0


async def sleep_or_stop(delay_s: float, stop: asyncio.Event | None) -> bool:
    """Sleep ``delay_s``; return True early (and at once) when ``stop`` is set."""
    if stop is None:
        await asyncio.sleep(delay_s)
        return False
    try:
        await asyncio.wait_for(stop.wait(), timeout=delay_s)
    except TimeoutError:
        return False
    return True


class OutageLog:
    """Logs a dependency going down once, and coming back once, instead of every retry."""

    def __init__(self, logger: logging.Logger, what: str) -> None:
        self._log = logger
        self._what = what
        self._down_since: float | None = None
        self._failures = 0
        self._last_kind: str | None = None

    @property
    def down(self) -> bool:
        return self._down_since is not None

    def failed(self, exc: BaseException) -> None:
        self._failures += 1
        kind = type(exc).__name__
        if self._down_since is None:
            self._down_since = time.monotonic()
            self._log.warning("%s unavailable (%s: %s); retrying with backoff",
                              self._what, kind, exc)
        elif kind != self._last_kind:
            self._log.warning("%s still unavailable, now %s: %s", self._what, kind, exc)
        self._last_kind = kind

    def succeeded(self) -> None:
        if self._down_since is not None:
            self._log.warning("%s available again after %.1f s and %d failed attempts",
                              self._what, time.monotonic() - self._down_since, self._failures)
        self._down_since = None
        self._failures = 0
        self._last_kind = None
