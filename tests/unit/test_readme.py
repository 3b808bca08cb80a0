"""README stays current with the settings: every setting is in its table, with its default."""

from __future__ import annotations

import re
from pathlib import Path

from sessionizer.settings import PROJECT_ROOT, Settings

README = Path(__file__).resolve().parents[2] / "README.md"


def _env_name(field: str) -> str:
    if field == "kafka_bootstrap_servers":
        return "KAFKA_BOOTSTRAP_SERVERS"
    if field == "database_url":
        return "DATABASE_URL"
    return f"SESSIONIZER_{field.upper()}"


def _readme_rows() -> dict[str, str]:
    rows: dict[str, str] = {}
    for line in README.read_text(encoding="utf-8").splitlines():
        match = re.match(r"^\| `([A-Z_]+)` \| `([^`]*)` \|", line)
        if match:
            rows[match.group(1)] = match.group(2)
    return rows


def test_every_setting_is_in_the_readme_table_with_its_default() -> None:
    rows = _readme_rows()
    for name, field in Settings.model_fields.items():
        env = _env_name(name)
        assert env in rows, f"README settings table lacks {env}"
        default = field.get_default(call_default_factory=True)
        shown = str(default).replace(str(PROJECT_ROOT), ".")
        assert rows[env] == shown, f"README gives {env} default {rows[env]!r}, code {shown!r}"


def test_readme_table_names_no_setting_that_does_not_exist() -> None:
    known = {_env_name(name) for name in Settings.model_fields}
    extra = {env for env in _readme_rows() if env.startswith("SESSIONIZER_")} - known
    assert not extra, f"README lists settings the code does not have: {sorted(extra)}"
