"""The worker's view of the Faust sessions table: a decoded-state cache over it, and dirty keys.

Faust decides a table write's changelog partition (and, with RocksDB, the local partition
database) from the *current event*, a context variable that its per-event iteration sets and
that a micro-batch does not (see /work/shared/notes/faust-tables-and-batching.md). Every read
and write here runs with that variable set to a stand-in event of the session's raw-topic
partition (:class:`PartitionEvent`), so a session's state lives in the changelog partition
equal to its raw-topic partition, whatever partitioner produced the raw topic.

States are written less often than they change: :meth:`SessionTable.stage` keeps a folded state
in the cache and remembers it as unwritten; :meth:`SessionTable.write_staged` stores every
unwritten state locally, sends one changelog record per session with an explicit partition and
waits for the broker's acknowledgements. Only then may the offsets of the records folded into
them be committed (the caller tells the delivery gate). Faust's own commit-time producer flush
gives up on its send buffer after 0.1 s, so it is not relied on. Unwritten states are never
evicted from the cache, and a revoked partition's unwritten states are dropped: their records
are above the committed offset, so the partition's next owner folds them again.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections import OrderedDict
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, NamedTuple

from faust.streams import _current_event
from faust.types import TP

from streams.table_value import (
    StoredSession,
    TableValueError,
    decode_stored,
    encode_stored,
    read_header,
)

log = logging.getLogger(__name__)


class ChangelogRecord(NamedTuple):
    """A session state to send to the changelog partition ``partition``."""

    partition: int
    key: bytes
    value: bytes


class PartitionEvent:
    """All Faust's table reads of its current event here: ``event.message.partition``."""

    __slots__ = ("__weakref__", "partition")

    def __init__(self, partition: int) -> None:
        self.partition = partition

    @property
    def message(self) -> PartitionEvent:
        return self


_PARTITION_EVENTS: dict[int, PartitionEvent] = {}


@contextmanager
def acting_for(partition: int) -> Iterator[None]:
    """Make raw ``partition`` Faust's current event's partition while the block runs."""
    event = _PARTITION_EVENTS.get(partition)
    if event is None:
        event = _PARTITION_EVENTS[partition] = PartitionEvent(partition)
    stand_in: Any = event  # Faust types it as an EventT; only .message.partition is read
    token = _current_event.set(weakref.ref(stand_in))
    try:
        yield
    finally:
        _current_event.reset(token)


class SessionTable:
    """Decoded session states of the partitions this worker owns, backed by the Faust table.

    ``dirty`` maps the key of every session whose current batch may have changes not sent
    yet to its raw-topic partition: the interval flush visits only these keys.
    """

    def __init__(self, app: Any, table: Any, *, cache_size: int) -> None:
        self._app = app
        self._table = table
        self._cache: OrderedDict[bytes, StoredSession] = OrderedDict()
        self._cache_size = cache_size
        self._unwritten: dict[bytes, int] = {}  # key -> the session's raw partition
        self.dirty: dict[bytes, int] = {}

    @property
    def unwritten(self) -> int:
        """States changed since the last :meth:`write_staged`."""
        return len(self._unwritten)

    @property
    def cached(self) -> int:
        return len(self._cache)

    def get(self, key: bytes, partition: int) -> StoredSession | None:
        """The session of ``key`` (of raw ``partition``), from the cache or the table."""
        stored = self._cache.get(key)
        if stored is not None:
            self._cache.move_to_end(key)
            return stored
        with acting_for(partition):
            value = self._table.data.get(key)
        return self._remember(key, value)

    def get_any(self, key: bytes) -> StoredSession | None:
        """Like :meth:`get` without an event (the interval flush): any partition."""
        stored = self._cache.get(key)
        if stored is not None:
            return stored
        return self._remember(key, self._table.data.get(key))

    def _remember(self, key: bytes, value: bytes | None) -> StoredSession | None:
        if value is None:
            return None
        stored = decode_stored(value)
        self._cache[key] = stored
        return stored

    def put(self, key: bytes, stored: StoredSession, partition: int) -> ChangelogRecord:
        """Store ``stored`` locally; returns the changelog record to send (:meth:`send`).

        ``partition`` is the session's raw-topic partition.
        """
        value = encode_stored(stored)
        with acting_for(partition):
            self._table.data[key] = value
        self._cache[key] = stored
        self._cache.move_to_end(key)
        return ChangelogRecord(partition, key, value)

    def stage(self, key: bytes, stored: StoredSession, partition: int) -> None:
        """Keep the folded ``stored`` in the cache until :meth:`write_staged` writes it."""
        self._cache[key] = stored
        self._cache.move_to_end(key)
        self._unwritten[key] = partition

    async def write_staged(self) -> int:
        """Write every staged state to the table and its changelog; returns how many."""
        if not self._unwritten:
            return 0
        cache = self._cache
        records = [self.put(key, cache[key], part) for key, part in self._unwritten.items()]
        await self.send(records)
        self._unwritten.clear()
        return len(records)

    async def send(self, records: Sequence[ChangelogRecord]) -> None:
        """Send ``records`` to the changelog and wait until the broker has them all.

        Straight to the producer (Faust's ``send_changelog`` queues each record through a
        one-at-a-time buffer); then, as Faust does on each changelog ack, the local store
        remembers the changelog offset it holds data up to (RocksDB: recovery starts there).
        """
        if not records:
            return
        producer = self._app.producer
        topic = self._table.changelog_topic_name
        acks = [
            await producer.send(topic, r.key, r.value, r.partition, None, None) for r in records
        ]
        results = await asyncio.gather(*acks)
        highest: dict[int, int] = {}
        for result in results:
            highest[result.partition] = max(result.offset, highest.get(result.partition, -1))
        for partition, offset in highest.items():
            self._table.data.set_persisted_offset(TP(topic, partition), offset)

    def mark(self, key: bytes, stored: StoredSession) -> None:
        """Track whether ``key`` needs the interval flush."""
        if stored.state.batch.dirty:
            self.dirty[key] = stored.partition
        else:
            self.dirty.pop(key, None)

    def trim(self) -> None:
        """Forget the least recently used states beyond the cache size (the table keeps them).

        Unwritten states stay. An evicted state equals its stored value, apart from a dirty
        flag the interval flush may have cleared since: reloading it can only make a batch be
        sent once more.
        """
        excess = len(self._cache) - self._cache_size
        if excess <= 0:
            return
        unwritten = self._unwritten
        evict: list[bytes] = []
        for key in self._cache:  # least recently used first
            if len(evict) >= excess:
                break
            if key not in unwritten:
                evict.append(key)
        for key in evict:
            del self._cache[key]

    def drop_partitions(self, partitions: Iterable[int]) -> int:
        """Forget every cached state and dirty key of ``partitions`` (they were revoked)."""
        gone = set(partitions)
        if not gone:
            return 0
        keys = [key for key, stored in self._cache.items() if stored.partition in gone]
        for key in keys:
            del self._cache[key]
        for key in [k for k, partition in self._unwritten.items() if partition in gone]:
            del self._unwritten[key]
        for key in [key for key, partition in self.dirty.items() if partition in gone]:
            del self.dirty[key]
        return len(keys)

    def find_dirty(self, partitions: Iterable[int]) -> int:
        """Add the stored sessions of ``partitions`` whose batch was dirty when written.

        Run after the table restored newly assigned partitions: a batch that the previous
        owner changed and did not send yet is sent by the next interval flush. Reads headers
        only; returns how many keys were added.
        """
        wanted = set(partitions)
        if not wanted:
            return 0
        added = 0
        for key, value in self._table.data.items():
            try:
                header = read_header(value)
            except TableValueError as exc:
                log.warning("skipping unreadable stored session %r: %s", key, exc)
                continue
            if header.dirty and header.partition in wanted and key not in self.dirty:
                self.dirty[key] = header.partition
                added += 1
        return added
