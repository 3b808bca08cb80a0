"""Batched, version-guarded upsert of snapshot rows into ``analytics_user_sessions``.

One batch is one ``INSERT … SELECT FROM unnest(…) ON CONFLICT … DO UPDATE … WHERE`` statement:
a stored row is replaced only by a snapshot with a higher ``version``. When Postgres rejects
a batch for good (a check constraint, bad text), the batch is split in halves until the rows
it rejects are found; they are returned with the database's message and the rest is written.
A lost connection or a database that is down raises :class:`DatabaseUnavailable` (retriable).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

import asyncpg

from sessionizer.errors import TransientError
from sinks.migrations import quote_ident
from sinks.snapshot_rows import SnapshotRow

log = logging.getLogger(__name__)

TABLE = "analytics_user_sessions"

# (column, SQL type of the unnest parameter, SQL expression of the inserted value)
_COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("session_id", "text", "u.session_id"),
    ("batch_seq", "integer", "u.batch_seq"),
    ("batch_id", "uuid", "u.batch_id"),
    ("user_id", "uuid", "u.user_id"),
    ("started_at", "timestamptz", "u.started_at"),
    ("ended_at", "timestamptz", "u.ended_at"),
    ("path_sequence", "jsonb",
     "ARRAY(SELECT x.e FROM jsonb_array_elements_text(u.path_sequence) WITH ORDINALITY"
     " AS x(e, n) ORDER BY x.n)"),
    ("path_timings", "jsonb",
     "ARRAY(SELECT x.e::bigint FROM jsonb_array_elements_text(u.path_timings) WITH ORDINALITY"
     " AS x(e, n) ORDER BY x.n)"),
    ("entry_point", "text", "u.entry_point"),
    ("exit_point", "text", "u.exit_point"),
    ("interaction_summary", "jsonb", "u.interaction_summary"),
    ("goal_events", "jsonb", "u.goal_events"),
    ("feature_interactions", "jsonb", "u.feature_interactions"),
    ("page_load_times", "jsonb", "u.page_load_times"),
    ("error_events", "jsonb", "u.error_events"),
    ("llm_interactions", "jsonb", "u.llm_interactions"),
    ("llm_token_usage", "bigint", "u.llm_token_usage"),
    ("llm_cost_estimate", "numeric", "u.llm_cost_estimate"),
    ("metadata", "jsonb", "u.metadata"),
    ("session_type", "text", "u.session_type"),
    ("conversion_achieved", "boolean", "u.conversion_achieved"),
    ("version", "bigint", "u.version"),
    ("closed", "boolean", "u.closed"),
)
COLUMN_NAMES = tuple(c[0] for c in _COLUMNS)


def upsert_sql(schema: str) -> str:
    """The one statement that writes a whole batch (one array parameter per column)."""
    table = f"{quote_ident(schema)}.{TABLE}"
    names = ", ".join(COLUMN_NAMES)
    params = ", ".join(f"${i}::{sql_type}[]" for i, (_, sql_type, _e) in enumerate(_COLUMNS, 1))
    values = ", ".join(expr for _, _t, expr in _COLUMNS)
    updates = ", ".join(
        f"{name} = EXCLUDED.{name}"
        for name in COLUMN_NAMES
        if name not in ("session_id", "batch_seq")
    )
    return (
        f"INSERT INTO {table} AS t ({names})\n"
        f"SELECT {values}\n"
        f"FROM unnest({params}) AS u({names})\n"
        "ON CONFLICT (session_id, batch_seq) DO UPDATE\n"
        f"SET {updates}, updated_at = now()\n"
        "WHERE t.version < EXCLUDED.version"
    )


class DatabaseUnavailable(TransientError):
    """Postgres cannot be reached or failed for a passing reason: retry the whole batch."""


# SQLSTATE classes a row can cause: data exception, integrity violation, cardinality
# violation, program limit (a value too large). Anything else (connection, shutdown,
# missing table, permissions, resources) is not the row's fault and is retried.
_ROW_FAULT_CLASSES = frozenset({"21", "22", "23", "54"})


def is_row_fault(exc: BaseException) -> bool:
    """True when ``exc`` is Postgres rejecting the data itself (retrying will not help)."""
    if isinstance(exc, asyncpg.PostgresError) and not isinstance(
        exc, asyncpg.PostgresConnectionError
    ):
        state = getattr(exc, "sqlstate", None) or ""
        return state[:2] in _ROW_FAULT_CLASSES
    # asyncpg raises DataError (no sqlstate) when it cannot encode a Python value
    return isinstance(exc, asyncpg.DataError)


def describe(exc: BaseException) -> str:
    """The database error as one line: SQLSTATE, message, detail and constraint when known."""
    parts = [f"{getattr(exc, 'sqlstate', None) or type(exc).__name__}: {exc}"]
    detail = getattr(exc, "detail", None)
    if detail:
        parts.append(f"detail: {detail}")
    constraint = getattr(exc, "constraint_name", None)
    if constraint:
        parts.append(f"constraint: {constraint}")
    return "; ".join(parts)


@dataclass
class WriteOutcome:
    """Result of writing one batch."""

    written: int = 0
    rejected: list[tuple[SnapshotRow, str]] = field(default_factory=list)
    statements: int = 0


class PostgresSink:
    """Async context manager around an asyncpg pool; :meth:`write` upserts one batch."""

    def __init__(
        self, database_url: str, schema: str = "public", *, pool_max_size: int = 2,
        command_timeout_s: float = 30.0, connect_timeout_s: float = 5.0,
    ) -> None:
        self._url = database_url
        self._sql = upsert_sql(schema)
        self._pool_max_size = pool_max_size
        self._command_timeout_s = command_timeout_s
        self._connect_timeout_s = connect_timeout_s
        self._pool: Any = None
        self.statements = 0
        """Upsert statements sent so far (for tests and the benchmark)."""

    async def __aenter__(self) -> PostgresSink:
        # min_size=0: creating the pool needs no connection, so the sink starts while
        # Postgres is down and connects when it is back.
        self._pool = await asyncpg.create_pool(
            self._url, min_size=0, max_size=self._pool_max_size,
            command_timeout=self._command_timeout_s, timeout=self._connect_timeout_s,
        )
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._pool is not None:
            try:
                await self._pool.close()
            except Exception:  # a pool whose server died cannot close cleanly
                self._pool.terminate()
            self._pool = None

    async def write(self, rows: Sequence[SnapshotRow]) -> WriteOutcome:
        """Upsert ``rows`` (at most one per key); return what was written and rejected.

        Raises :class:`DatabaseUnavailable` when the database cannot take the batch now:
        nothing may be considered written then, and the caller retries the whole batch
        (the version guard makes rows written before the fault harmless).
        """
        outcome = WriteOutcome()
        if rows:
            await self._write_or_split(list(rows), outcome)
        return outcome

    async def _write_or_split(self, rows: list[SnapshotRow], outcome: WriteOutcome) -> None:
        try:
            await self._execute(rows)
            outcome.statements += 1
            outcome.written += len(rows)
            return
        except Exception as exc:
            outcome.statements += 1
            if not is_row_fault(exc):
                raise DatabaseUnavailable(describe(exc)) from exc
            if len(rows) == 1:
                log.warning("Postgres rejected snapshot %s/%s: %s",
                            rows[0].session_id, rows[0].batch_seq, describe(exc))
                outcome.rejected.append((rows[0], describe(exc)))
                return
            log.info("Postgres rejected a batch of %d (%s); splitting it", len(rows),
                     describe(exc))
        middle = len(rows) // 2
        await self._write_or_split(rows[:middle], outcome)
        await self._write_or_split(rows[middle:], outcome)

    async def _execute(self, rows: list[SnapshotRow]) -> None:
        if self._pool is None:
            raise RuntimeError("PostgresSink used outside its async with block")
        columns = [[getattr(row, name) for row in rows] for name in COLUMN_NAMES]
        self.statements += 1
        try:
            async with self._pool.acquire() as conn:
                await conn.execute(self._sql, *columns)
        except (OSError, TimeoutError, asyncpg.InterfaceError) as exc:
            raise DatabaseUnavailable(f"{type(exc).__name__}: {exc}") from exc
