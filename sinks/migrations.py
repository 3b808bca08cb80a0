"""Forward-only SQL migrations: ``sql/<profile>/NNNN_name.sql`` applied in order, recorded.

Profiles: ``core`` (plain Postgres 13+) and ``supabase`` (applied after ``core``: the link to
``auth.users`` and row-level security). A run happens in one transaction under an advisory lock,
so it is all or nothing and two runs never interleave. Every applied file is recorded, with a
checksum, in ``sessionizer_migrations`` of the target schema. A database that holds a migration
this code does not know (or a known one whose file changed since) is refused.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg

from sessionizer.errors import ConfigError

log = logging.getLogger(__name__)

SQL_DIR = Path(__file__).resolve().parent.parent / "sql"
PROFILES = ("core", "supabase")
MIGRATIONS_TABLE = "sessionizer_migrations"
_FILE_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")
_LOCK_KEY = 0x5E5510_4D16  # any fixed bigint: one migrator at a time per database


@dataclass(frozen=True)
class Migration:
    """One SQL file of a profile."""

    profile: str
    number: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode("utf-8")).hexdigest()

    @property
    def label(self) -> str:
        return f"{self.profile}/{self.number:04d}_{self.name}"


@dataclass
class MigrationReport:
    """What a run did: the labels it applied, and how many were applied before."""

    schema: str
    applied: list[str] = field(default_factory=list)
    already_applied: int = 0


def quote_ident(name: str) -> str:
    """Quote an SQL identifier (schema name) safely."""
    if not name or "\x00" in name:
        raise ConfigError(f"bad schema name: {name!r}")
    return '"' + name.replace('"', '""') + '"'


def load_migrations(profile: str, sql_dir: Path = SQL_DIR) -> list[Migration]:
    """Every migration of ``profile``, ordered by number; numbers must run 1, 2, 3 …"""
    if profile not in PROFILES:
        raise ConfigError(f"unknown migration profile {profile!r}")
    folder = sql_dir / profile
    found: list[Migration] = []
    for path in sorted(folder.glob("*.sql")):
        match = _FILE_NAME.match(path.name)
        if match is None:
            raise ConfigError(f"migration file name must be NNNN_name.sql: {path}")
        found.append(
            Migration(profile, int(match.group(1)), match.group(2), path.read_text("utf-8"))
        )
    for expected, migration in enumerate(found, start=1):
        if migration.number != expected:
            raise ConfigError(f"migrations of {profile} must be numbered 1, 2, 3…: {found}")
    return found


_CREATE_TABLE = """
CREATE TABLE IF NOT EXISTS {table} (
  profile text NOT NULL,
  number integer NOT NULL,
  name text NOT NULL,
  checksum text NOT NULL,
  applied_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (profile, number)
);
COMMENT ON TABLE {table} IS
  'Bookkeeping of `sessionizer migrate`: one row per SQL migration file applied to this schema. '
  'Not analytics data.';
COMMENT ON COLUMN {table}.profile IS 'Migration profile: core (plain Postgres) or supabase.';
COMMENT ON COLUMN {table}.number IS 'Number of the migration within its profile (1, 2, 3 …).';
COMMENT ON COLUMN {table}.name IS 'File name of the migration without number and extension.';
COMMENT ON COLUMN {table}.checksum IS 'SHA-256 (hex) of the migration file as applied.';
COMMENT ON COLUMN {table}.applied_at IS 'When the migration was applied (database time, UTC).';
"""


async def _check_supabase_prerequisites(conn: Any) -> None:
    if await conn.fetchval("SELECT to_regclass('auth.users')") is None:
        raise ConfigError(
            "the supabase profile needs table auth.users (a Supabase database); none here"
        )
    if await conn.fetchval("SELECT to_regprocedure('auth.uid()')") is None:
        raise ConfigError("the supabase profile needs function auth.uid(); none here")
    if not await conn.fetchval("SELECT exists(SELECT 1 FROM pg_roles WHERE rolname = $1)",
                               "authenticated"):
        raise ConfigError("the supabase profile needs the role 'authenticated'; none here")


async def apply_migrations(
    conn: Any, schema: str = "public", *, supabase: bool = False, sql_dir: Path = SQL_DIR
) -> MigrationReport:
    """Apply what is missing, on an open asyncpg connection, in one transaction."""
    profiles: Sequence[str] = ("core", "supabase") if supabase else ("core",)
    known = {p: load_migrations(p, sql_dir) for p in PROFILES}
    ident = quote_ident(schema)
    table = f"{ident}.{MIGRATIONS_TABLE}"
    report = MigrationReport(schema=schema)
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock($1)", _LOCK_KEY)
        await conn.execute(f"CREATE SCHEMA IF NOT EXISTS {ident}")
        path = ident if schema == "public" else f"{ident}, public"
        await conn.execute(f"SET LOCAL search_path TO {path}")
        await conn.execute(_CREATE_TABLE.format(table=table))
        rows = await conn.fetch(f"SELECT profile, number, name, checksum FROM {table}")
        applied = {(r["profile"], r["number"]): r for r in rows}
        by_key = {(m.profile, m.number): m for ms in known.values() for m in ms}
        for key, row in sorted(applied.items()):
            migration = by_key.get(key)
            if migration is None:
                raise ConfigError(
                    f"schema {schema} holds migration {row['profile']}/{row['number']:04d}_"
                    f"{row['name']}, which this version of sessionizer does not know: refusing"
                )
            if migration.checksum != row["checksum"]:
                raise ConfigError(
                    f"migration {migration.label} changed since it was applied to schema "
                    f"{schema} (checksum differs): migrations are forward-only, add a new one"
                )
        if supabase and any(
            (m.profile, m.number) not in applied for m in known["supabase"]
        ):
            await _check_supabase_prerequisites(conn)
        for profile in profiles:
            for migration in known[profile]:
                if (migration.profile, migration.number) in applied:
                    report.already_applied += 1
                    continue
                log.info("applying migration %s to schema %s", migration.label, schema)
                await conn.execute(migration.sql)
                await conn.execute(
                    f"INSERT INTO {table} (profile, number, name, checksum) "
                    "VALUES ($1, $2, $3, $4)",
                    migration.profile, migration.number, migration.name, migration.checksum,
                )
                report.applied.append(migration.label)
    return report


async def migrate(
    database_url: str, schema: str = "public", *, supabase: bool = False,
    sql_dir: Path = SQL_DIR,
) -> MigrationReport:
    """Connect to ``database_url`` and apply what is missing (see :func:`apply_migrations`)."""
    conn = await asyncpg.connect(database_url)
    try:
        return await apply_migrations(conn, schema, supabase=supabase, sql_dir=sql_dir)
    finally:
        await conn.close()
