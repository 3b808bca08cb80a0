"""`sessionizer migrate`: apply the SQL migrations of sql/ to Postgres (forward-only)."""

from __future__ import annotations

import argparse
import asyncio
import sys

import asyncpg

from sessionizer.settings import Settings
from sinks.migrations import migrate


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "migrate",
        help="create or update the Postgres tables and views (idempotent)",
        description=(
            "Apply the numbered SQL migrations under sql/core (and sql/supabase with "
            "--supabase) that the database does not have yet, in one transaction, and record "
            "them in the table sessionizer_migrations. Running it again does nothing. It "
            "refuses to run when the database holds a migration this version does not know. "
            "Connects to DATABASE_URL."
        ),
    )
    parser.add_argument(
        "--supabase",
        action="store_true",
        help=(
            "also apply the Supabase profile: foreign key to auth.users(id) (on delete set "
            "null), rows of unknown users kept with user_id null, row-level security and the "
            "read policy (needs auth.users, auth.uid() and the role authenticated)"
        ),
    )
    parser.add_argument(
        "--schema",
        default=None,
        help="schema to migrate (created when missing; default: SESSIONIZER_DB_SCHEMA or public)",
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    schema = args.schema or settings.db_schema
    try:
        report = asyncio.run(migrate(settings.database_url, schema, supabase=args.supabase))
    except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
        print(f"sessionizer migrate: database error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    if report.applied:
        for label in report.applied:
            print(f"applied {label}")
    else:
        print(f"schema {schema} is up to date ({report.already_applied} migrations applied)")
    return 0
