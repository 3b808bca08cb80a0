"""RocksDB's own account of its memory, summed over the sessions table's open partitions.

The worker's resident memory includes RocksDB's native allocations, which neither Python's
allocator statistics nor tracemalloc see. RocksDB reports them as properties of each database:

* ``block_cache``: cached data blocks (bounded by the block cache size of each partition);
* ``memtables``: write buffers, active and immutable (bounded by the write buffer options);
* ``table_readers``: index and filter blocks of the open table files. Faust keeps them outside
  the block cache, so this one grows with the store (about 0.6 % of its size).

Each partition database has a block cache of its own (:mod:`streams.rocksdb_options`), so the
sum over partitions is the worker's total.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Protocol

ROCKSDB_MEMORY_PROPERTIES: dict[str, str] = {
    "block_cache": "rocksdb.block-cache-usage",
    "memtables": "rocksdb.size-all-mem-tables",
    "table_readers": "rocksdb.estimate-table-readers-mem",
}


class PropertyReader(Protocol):
    """What is read of a database: ``rocksdict.Rdict.property_int_value``."""

    def property_int_value(self, name: str) -> int | None: ...


def rocksdb_memory_bytes(dbs: Iterable[PropertyReader]) -> dict[str, int]:
    """Bytes per kind (the keys of :data:`ROCKSDB_MEMORY_PROPERTIES`), summed over ``dbs``."""
    totals = dict.fromkeys(ROCKSDB_MEMORY_PROPERTIES, 0)
    for db in dbs:
        for kind, name in ROCKSDB_MEMORY_PROPERTIES.items():
            value = db.property_int_value(name)
            if value is not None:
                totals[kind] += value
    return totals


def open_partition_dbs(store: Any) -> list[PropertyReader]:
    """The open partition databases of Faust's RocksDB store (``table.data``); [] otherwise.

    ``faust.stores.rocksdb.Store`` keeps them in ``_dbs`` (partition -> database) and has no
    public accessor; the memory store has none.
    """
    dbs = getattr(store, "_dbs", None)
    return list(dbs.values()) if isinstance(dbs, dict) else []
