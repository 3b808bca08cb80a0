"""RocksDB options of the sessions table: bounded memory per table partition.

Faust's defaults (a 2 GiB block cache and 3 x 64 MiB write buffers per partition) let the
worker's resident memory grow for a long time; these bound it.
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
