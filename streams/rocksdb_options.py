"""RocksDB options of the sessions table: bounded memory per table partition.

Faust's defaults (a 2 GiB block cache and 3 x 64 MiB write buffers per partition) let the
worker's resident memory grow for a long time; these bound it. What each bound costs, measured
with RocksDB's own properties in a 10-minute steady run (bench/README.md, worker_memory.py):

* write buffers (memtables): 2 x 1 MiB per partition, full within the first minute;
* block cache: ``settings.worker_rocksdb_cache_mib`` per partition. A partition's cache only
  fills as that partition's store outgrows it (sessions are never deleted, so the store grows
  with every session seen): the larger the cache, the later the worker's memory levels off;
* index and filter blocks are held by each open table file, outside the block cache (Faust's
  ``as_options`` does not set ``cache_index_and_filter_blocks``): about 0.6 % of the store's
  size, so they grow with the store, slowly.

``block_cache_compressed_size`` is read only by the python-rocksdb driver (rocksdict, the driver
installed here, ignores it); it is set so that driver would not take Faust's 500 MiB default.
"""

from __future__ import annotations

from sessionizer.settings import Settings

MIB = 1024 * 1024
ROCKSDB_WRITE_BUFFER_MIB = 1


def rocksdb_options(settings: Settings) -> dict[str, int]:
    """The ``options`` Faust passes to its RocksDB store for each table partition."""
    return {
        "write_buffer_size": ROCKSDB_WRITE_BUFFER_MIB * MIB,
        "max_write_buffer_number": 2,
        "block_cache_size": settings.worker_rocksdb_cache_mib * MIB,
        "block_cache_compressed_size": settings.worker_rocksdb_cache_mib * MIB,
    }
