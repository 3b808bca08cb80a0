"""RocksDB memory figures of real partition databases opened with the worker's options."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from faust.stores.rocksdb import RocksDBOptions
from rocksdict import Rdict

from sessionizer.settings import Settings
from streams.rocksdb_memory import open_partition_dbs, rocksdb_memory_bytes
from streams.rocksdb_options import MIB, rocksdb_options

VALUE_BYTES = 2_000
KEYS = 8_000  # about 16 MB of values: more than the 1 MiB block cache


def open_db(path: Path) -> Rdict:
    """A partition database as Faust opens it, with the worker's options (1 MiB cache)."""
    worker_options: dict[str, Any] = dict(rocksdb_options(Settings(worker_rocksdb_cache_mib=1)))
    options = RocksDBOptions(**worker_options)
    db: Rdict = options.open(path)
    return db


def test_memtables_hold_writes_until_a_flush(tmp_path: Path) -> None:
    db = open_db(tmp_path / "p0")
    try:
        before = rocksdb_memory_bytes([db])
        for n in range(500):
            db.put(f"session-{n:06d}".encode(), os.urandom(VALUE_BYTES))
        written = rocksdb_memory_bytes([db])
        db.flush()
        flushed = rocksdb_memory_bytes([db])
    finally:
        db.close()
    assert written["memtables"] - before["memtables"] >= 500 * VALUE_BYTES
    assert flushed["memtables"] < written["memtables"]
    assert flushed["table_readers"] > 0  # the flushed file's index and filter


def test_block_cache_stays_within_its_bound_and_partitions_add_up(tmp_path: Path) -> None:
    dbs = [open_db(tmp_path / f"p{n}") for n in range(2)]
    try:
        for db in dbs:
            for n in range(KEYS):
                db.put(f"session-{n:06d}".encode(), os.urandom(VALUE_BYTES))
            db.flush()
        for db in dbs:
            for n in range(0, KEYS, 3):
                assert db.get(f"session-{n:06d}".encode()) is not None
        each = [rocksdb_memory_bytes([db]) for db in dbs]
        both = rocksdb_memory_bytes(dbs)
    finally:
        for db in dbs:
            db.close()
    for figures in each:
        assert 0 < figures["block_cache"] <= MIB + 64 * 1024
    assert both == {kind: each[0][kind] + each[1][kind] for kind in both}


class StoreWithDatabases:
    """Holds partition databases where Faust's RocksDB store does (``_dbs``)."""

    def __init__(self, dbs: dict[int, object]) -> None:
        self._dbs = dbs


def test_open_partition_dbs_reads_the_rocksdb_store_and_nothing_else() -> None:
    marker = object()
    assert open_partition_dbs(StoreWithDatabases({3: marker})) == [marker]
    assert open_partition_dbs(object()) == []  # e.g. Faust's memory store
