"""The interval flush: every dirty batch is sent at least every FLUSH_INTERVAL (SPEC 3).

The worker also flushes whenever its raw reader is idle (a fetch found nothing within the
batch timeout): once it has caught up, what it folded reaches the session stream at once
instead of at the next tick. Under steady traffic a fetch is never empty and only the tick
flushes, so the number of snapshots per event stays that of the interval.

Only the sessions in :attr:`SessionTable.dirty` are visited, never a scan of all sessions.
Clearing a batch's dirty flag here is not written to the table: if the worker dies before the
session's next table write, the state restored from the changelog is still dirty and the same
snapshot (same version, same content) is sent again, which consumers ignore. The snapshots are
acknowledged before the lock is released, so a later table write saying "not dirty" never
reaches Kafka before the snapshot it stands for.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable
from typing import Any

from streams.faust_record_sender import FaustRecordSender
from streams.session_agent import send_snapshots
from streams.session_fold import flush_dirty
from streams.session_table import SessionTable
from streams.snapshot import Snapshot
from streams.worker_metrics import WorkerMetrics

log = logging.getLogger(__name__)


class IntervalFlusher:
    """Sends the snapshot of every dirty batch; run it from a timer."""

    def __init__(
        self,
        *,
        sessions: SessionTable,
        sender: FaustRecordSender,
        sessions_topic: str,
        metrics: WorkerMetrics,
        lock: asyncio.Lock,
    ) -> None:
        self._sessions = sessions
        self._sender = sender
        self._topic = sessions_topic
        self._metrics = metrics
        self._lock = lock

    async def flush(self) -> int:
        """Send every dirty batch; returns how many snapshots were sent."""
        async with self._lock:
            sessions = self._sessions
            if not sessions.dirty:
                return 0
            keys = list(sessions.dirty)
            sessions.dirty.clear()
            snapshots: list[Snapshot] = []
            for key in keys:
                stored = sessions.get_any(key)
                if stored is not None:
                    snapshots.extend(flush_dirty(stored.state))
            acks: list[Awaitable[Any]] = await send_snapshots(self._sender, self._topic, snapshots)
            if acks:
                await asyncio.gather(*acks)
            sessions.trim()
            self._metrics.values.snapshots += len(snapshots)
            log.debug(
                "interval flush: %d snapshots of %d dirty sessions", len(snapshots), len(keys)
            )
            return len(snapshots)
