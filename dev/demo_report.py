"""Print the `make demo` report: each statement of dev/demo_report.sql, as a small table.

``python dev/demo_report.py [SQL_FILE]`` connects to ``DATABASE_URL`` and reads the tables and
views of schema ``SESSIONIZER_DB_SCHEMA`` (the settings of the environment, as every
sessionizer command). A statement follows its ``-- title: ...`` line.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import asyncpg

from sessionizer.settings import Settings

SQL_FILE = Path(__file__).with_name("demo_report.sql")
TITLE = "-- title:"


def statements(text: str) -> list[tuple[str, str]]:
    """(title, SQL) pairs: each ``-- title:`` line starts the next statement."""
    found: list[tuple[str, str]] = []
    title: str | None = None
    body: list[str] = []
    for line in text.splitlines():
        if line.startswith(TITLE):
            if title is not None:
                found.append((title, "\n".join(body).strip()))
            title, body = line[len(TITLE) :].strip(), []
        elif title is not None:
            body.append(line)
    if title is not None:
        found.append((title, "\n".join(body).strip()))
    return found


def _cell(value: Any) -> str:
    return "" if value is None else str(value)


def render(title: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    cells = [[_cell(v) for v in row] for row in rows]
    widths = [max([len(c)] + [len(r[i]) for r in cells]) for i, c in enumerate(columns)]
    lines = [f"## {title}", "  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True))]
    lines.append("  ".join("-" * w for w in widths))
    for row in cells:
        lines.append(
            "  ".join(
                v.rjust(w) if v.replace(".", "", 1).lstrip("-").isdigit() else v.ljust(w)
                for v, w in zip(row, widths, strict=True)
            ).rstrip()
        )
    if not cells:
        lines.append("(no rows)")
    return "\n".join(lines)


async def report(settings: Settings, sql_text: str) -> str:
    conn = await asyncpg.connect(
        settings.database_url, server_settings={"search_path": settings.db_schema}
    )
    parts = []
    try:
        for title, sql in statements(sql_text):
            records = await conn.fetch(sql)
            columns = list(records[0].keys()) if records else []
            parts.append(render(title, columns, [tuple(r.values()) for r in records]))
    finally:
        await conn.close()
    return "\n\n".join(parts)


def main(argv: Sequence[str]) -> int:
    sql_file = Path(argv[0]) if argv else SQL_FILE
    print(asyncio.run(report(Settings(), sql_file.read_text())))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
