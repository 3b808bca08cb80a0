"""The conformance examples of the spec: ``fold`` of each events file equals its expected file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from streams.offline_fold import fold_lines
from streams.snapshot import encode_snapshot
from tests.spec_examples import example_event_files


def _json_lines(path: Path) -> list[Any]:
    return [json.loads(line) for line in path.read_text("utf-8").splitlines() if line.strip()]


def test_every_example_has_an_expected_file() -> None:
    files = example_event_files()
    assert len(files) >= 9
    for events in files:
        assert events.with_name(events.name.replace(".events.", ".expected.")).is_file()


@pytest.mark.parametrize(
    "events_file", example_event_files(), ids=lambda path: path.name.split(".")[0]
)
def test_example(events_file: Path) -> None:
    expected_file = events_file.with_name(events_file.name.replace(".events.", ".expected."))
    expected = _json_lines(expected_file)
    with events_file.open("rb") as stream:
        result = fold_lines(stream, gap_ms=1_800_000)
    assert sum(result.summary.rejected.values()) == 0
    got = [json.loads(encode_snapshot(snapshot)) for snapshot in result.snapshots]
    assert got == expected
