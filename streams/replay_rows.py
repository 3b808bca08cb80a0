"""The Postgres side of a replay: which rows of ``analytics_user_sessions`` go, in one go.

A rebuilt batch carries the same ``(session_id, batch_seq)`` and the same ``version`` as the
row it rebuilds, and the sink never replaces a row by a snapshot of equal or lower version
(SPEC 6). Left in place, a row whose content a rule change (or a bug fix) alters would never
be rewritten. So a replay deletes the rows it rebuilds, in one transaction, before the worker
runs: every session (a replay from the start), or every session with raw events at or after
the replay's starting offsets (a replay from a timestamp).
"""

from __future__ import annotations

from collections.abc import Collection

import asyncpg

from sessionizer.errors import ConfigError, TransientError
from sinks.migrations import quote_ident
from sinks.postgres_sink import TABLE


def table_name(schema: str) -> str:
    return f"{quote_ident(schema)}.{TABLE}"


async def _connect(database_url: str) -> asyncpg.Connection:
    try:
        return await asyncpg.connect(database_url)
    except (OSError, asyncpg.PostgresError) as exc:
        raise TransientError(f"cannot connect to Postgres: {exc}") from exc


async def count_rows(
    database_url: str, schema: str, session_ids: Collection[str] | None
) -> tuple[int, int]:
    """(rows that would be deleted, rows in the table); ``None``: every session."""
    table = table_name(schema)
    conn = await _connect(database_url)
    try:
        total = int(await conn.fetchval(f"SELECT count(*) FROM {table}"))
        if session_ids is None:
            return total, total
        doomed = await conn.fetchval(
            f"SELECT count(*) FROM {table} WHERE session_id = ANY($1::text[])", list(session_ids)
        )
        return int(doomed), total
    except asyncpg.UndefinedTableError:
        raise ConfigError(f"no table {table}: run `sessionizer migrate` first") from None
    finally:
        await conn.close()


async def delete_rows(database_url: str, schema: str, session_ids: Collection[str] | None) -> int:
    """Delete the rows of ``session_ids`` (``None``: all rows) in one transaction; the count."""
    table = table_name(schema)
    conn = await _connect(database_url)
    try:
        async with conn.transaction():
            if session_ids is None:
                status = await conn.execute(f"DELETE FROM {table}")
            else:
                status = await conn.execute(
                    f"DELETE FROM {table} WHERE session_id = ANY($1::text[])", list(session_ids)
                )
        return int(status.split()[-1])
    except asyncpg.UndefinedTableError:
        raise ConfigError(f"no table {table}: run `sessionizer migrate` first") from None
    finally:
        await conn.close()
