"""Start `make demo` from nothing: remove what an earlier demo run left on the stack.

``python dev/demo_reset.py`` deletes the demo's topics (raw, session stream, DLQ and the
worker's changelog), drops the demo's Postgres schema and removes the worker's data dir, all
named by the settings of the environment, which dev/run-demo.sh sets to demo-only names. It
refuses names that do not start with ``demo``, so that it never touches anyone else's data.
"""

from __future__ import annotations

import asyncio
import shutil
import sys

import asyncpg
from aiokafka.admin import AIOKafkaAdminClient

from sessionizer.settings import Settings

PREFIX = "demo"


async def reset(settings: Settings) -> list[str]:
    changelog = f"{settings.worker_app_id}-sessions-changelog"
    topics = [settings.raw_topic, settings.sessions_topic, settings.dlq_topic, changelog]
    names = [*topics, settings.db_schema, settings.worker_app_id, settings.sink_group_id]
    if not all(name.startswith(PREFIX) for name in names):
        raise SystemExit(f"demo_reset: refusing names that do not start with {PREFIX!r}: {names}")
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap_servers)
    await admin.start()
    try:
        existing = [t for t in topics if t in set(await admin.list_topics())]
        if existing:
            await admin.delete_topics(existing)
        for _ in range(300):  # deletion is asynchronous: wait until they are gone
            if not set(existing) & set(await admin.list_topics()):
                break
            await asyncio.sleep(0.1)
    finally:
        await admin.close()
    conn = await asyncpg.connect(settings.database_url)
    try:
        await conn.execute(f'DROP SCHEMA IF EXISTS "{settings.db_schema}" CASCADE')
        await conn.execute(f'CREATE SCHEMA "{settings.db_schema}"')
    finally:
        await conn.close()
    shutil.rmtree(settings.worker_data_dir, ignore_errors=True)
    return existing


def main() -> int:
    removed = asyncio.run(reset(Settings()))
    print(f"demo_reset: {len(removed)} old demo topic(s) deleted, schema emptied", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
