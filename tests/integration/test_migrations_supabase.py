"""The Supabase profile on plain Postgres with a stand-in auth schema: FK, unknown users, RLS."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest

from sessionizer.errors import ConfigError
from sinks.migrations import apply_migrations, load_migrations, migrate
from sinks.postgres_sink import PostgresSink
from sinks.snapshot_rows import comparable, snapshot_to_row
from tests.integration.conftest import PgSchema
from tests.integration.sink_test_support import (
    install_auth_standin,
    make_snapshot,
    stored_snapshots,
)


async def _as_user(conn: asyncpg.Connection, user: uuid.UUID | None, query: str) -> list[Any]:
    """Run ``query`` as role authenticated with the JWT subject ``user``."""
    async with conn.transaction():
        await conn.execute("SET LOCAL ROLE authenticated")
        await conn.execute("SELECT set_config('request.jwt.claim.sub', $1, true)",
                           "" if user is None else str(user))
        return list(await conn.fetch(query))


@pytest.fixture
async def auth_users(database_url: str) -> AsyncIterator[list[uuid.UUID]]:
    """Two users in the stand-in auth.users (shared by the database), removed afterwards."""
    await install_auth_standin(database_url)
    users = [uuid.uuid4(), uuid.uuid4()]
    conn = await asyncpg.connect(database_url)
    try:
        await conn.execute("INSERT INTO auth.users (id, email) VALUES ($1, 'a@x'), ($2, 'b@x')",
                           *users)
        yield users
    finally:
        await conn.execute("DELETE FROM auth.users WHERE id = ANY($1::uuid[])", users)
        await conn.close()


async def _setup(database_url: str, schema: str, users: list[uuid.UUID]) -> dict[str, Any]:
    alice, bob = users
    ghost = uuid.uuid4()
    report = await migrate(database_url, schema, supabase=True)
    assert report.applied == [m.label for p in ("core", "supabase") for m in load_migrations(p)]
    snapshots = [
        make_snapshot("s-alice-1", user_id=str(alice)),
        make_snapshot("s-alice-2", user_id=str(alice), metadata={"workspace_id": "w"}),
        make_snapshot("s-bob", user_id=str(bob)),
        make_snapshot("s-ghost", user_id=str(ghost), metadata={"plan": "pro"}),
        make_snapshot("s-anon"),
    ]
    async with PostgresSink(database_url, schema) as sink:
        outcome = await sink.write([snapshot_to_row(s) for s in snapshots])
    assert outcome.rejected == [] and outcome.written == 5
    return {"alice": alice, "bob": bob, "ghost": ghost, "snapshots": snapshots}


async def test_supabase_profile_isolates_users_and_keeps_unknown_users(
    database_url: str, pg_schema: PgSchema, pg_conn: asyncpg.Connection,
    auth_users: list[uuid.UUID],
) -> None:
    users = await _setup(database_url, pg_schema.name, auth_users)
    alice, bob, ghost = users["alice"], users["bob"], users["ghost"]

    seen_by_alice = await _as_user(
        pg_conn, alice, "SELECT session_id, user_id FROM analytics_user_sessions")
    assert sorted(r["session_id"] for r in seen_by_alice) == ["s-alice-1", "s-alice-2"]
    assert {r["user_id"] for r in seen_by_alice} == {alice}
    seen_by_bob = await _as_user(pg_conn, bob, "SELECT session_id FROM analytics_user_sessions")
    assert [r["session_id"] for r in seen_by_bob] == ["s-bob"]
    assert await _as_user(pg_conn, None, "SELECT session_id FROM analytics_user_sessions") == []
    await pg_conn.execute("GRANT SELECT ON sessionizer_migrations TO authenticated")
    assert await _as_user(pg_conn, alice, "SELECT * FROM sessionizer_migrations") == []
    # the views apply the policy too
    summary = await _as_user(pg_conn, bob, "SELECT session_id FROM analytics_session_summary")
    assert [r["session_id"] for r in summary] == ["s-bob"]

    # the owner (not subject to RLS) sees every row; the unknown user was unlinked, not lost
    rows = {r["session_id"]: r for r in await pg_conn.fetch(
        "SELECT session_id, user_id, metadata::text AS metadata FROM analytics_user_sessions")}
    assert len(rows) == 5
    assert rows["s-ghost"]["user_id"] is None
    assert f'"_unlinked_user_id": "{ghost}"' in rows["s-ghost"]["metadata"]
    assert '"plan": "pro"' in rows["s-ghost"]["metadata"]
    assert rows["s-bob"]["user_id"] == bob and "_unlinked" not in rows["s-bob"]["metadata"]
    # read back, every row equals the snapshot it was written from (the unlinked id restored)
    stored = await stored_snapshots(pg_conn, pg_schema.name)
    for snapshot in users["snapshots"]:
        key = (snapshot["session_id"], snapshot["batch_seq"])
        assert comparable(stored[key]) == comparable(snapshot)

    # deleting a user keeps the rows, unlinked (on delete set null)
    await pg_conn.execute("DELETE FROM auth.users WHERE id = $1", bob)
    assert await pg_conn.fetchval(
        "SELECT user_id FROM analytics_user_sessions WHERE session_id = 's-bob'") is None

    # the placeholder is_super_admin() was created (none existed) and says false
    assert await pg_conn.fetchval("SELECT is_super_admin()") is False
    # a second run has nothing to do
    again = await migrate(database_url, pg_schema.name, supabase=True)
    assert again.applied == [] and again.already_applied == 4


async def test_an_existing_is_super_admin_is_kept_and_used_by_the_policy(
    database_url: str, pg_schema: PgSchema, pg_conn: asyncpg.Connection,
    auth_users: list[uuid.UUID],
) -> None:
    await pg_conn.execute(
        "CREATE FUNCTION is_super_admin() RETURNS boolean LANGUAGE sql STABLE AS 'SELECT true'")
    users = await _setup(database_url, pg_schema.name, auth_users)
    seen = await _as_user(pg_conn, users["bob"], "SELECT session_id FROM analytics_user_sessions")
    assert len(seen) == 5


async def test_supabase_profile_needs_the_auth_schema(
    database_url: str, pg_schema: PgSchema, pg_conn: asyncpg.Connection
) -> None:
    await install_auth_standin(database_url)
    tx = pg_conn.transaction()
    await tx.start()
    try:  # hide the auth schema inside a transaction that is rolled back
        await pg_conn.execute("ALTER SCHEMA auth RENAME TO auth_hidden_by_test")
        with pytest.raises(ConfigError, match=r"auth\.users"):
            await apply_migrations(pg_conn, pg_schema.name, supabase=True)
    finally:
        await tx.rollback()
    assert await pg_conn.fetchval("SELECT to_regclass('auth.users')") is not None
