"""The fold is pure: its modules (and the validation they import) never load Kafka or Postgres."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FORBIDDEN = ("faust", "aiokafka", "asyncpg", "mode", "kafka", "confluent_kafka", "psycopg")
FOLD_MODULES = (
    "streams.session_state",
    "streams.session_fold",
    "streams.snapshot",
    "streams.state_codec",
    "streams.offline_fold",
)
FIRST_PARTY = ("streams", "ingest", "sessionizer", "sinks")


def _module_file(module: str) -> Path:
    base = ROOT.joinpath(*module.split("."))
    return base / "__init__.py" if base.is_dir() else base.with_suffix(".py")


def _imports(path: Path) -> set[str]:
    """Every module name an ``import`` statement of ``path`` names (anywhere in the file)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text("utf-8"), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def _first_party_closure() -> dict[str, set[str]]:
    """The fold modules and every first-party module they import, transitively."""
    seen: dict[str, set[str]] = {}
    pending = list(FOLD_MODULES)
    while pending:
        module = pending.pop()
        if module in seen or not _module_file(module).is_file():
            continue
        seen[module] = _imports(_module_file(module))
        for name in seen[module]:
            if name.split(".")[0] in FIRST_PARTY:
                pending.append(name)
    return seen


def test_static_scan_finds_no_io_library() -> None:
    closure = _first_party_closure()
    assert set(FOLD_MODULES) <= set(closure)
    assert "ingest.validation" in closure
    offenders = {
        module: sorted(n for n in names if n.split(".")[0] in FORBIDDEN)
        for module, names in closure.items()
    }
    assert {m: names for m, names in offenders.items() if names} == {}


def test_static_scan_catches_a_forbidden_import(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text("def f():\n    from aiokafka import AIOKafkaProducer\n    import faust.app\n")
    assert {"aiokafka", "faust.app"} <= _imports(sample)


@pytest.mark.parametrize("module", FOLD_MODULES)
def test_importing_loads_no_io_library(module: str) -> None:
    probe = (
        "import importlib, json, sys\n"
        f"importlib.import_module({module!r})\n"
        f"print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in {FORBIDDEN!r})))\n"
    )
    completed = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    assert json.loads(completed.stdout) == []
