"""The conformance examples of the spec: every line validates in the offline mode."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ingest.accepted_event import AcceptedEvent
from ingest.validation import validate_record
from tests.spec_examples import SPEC_EXAMPLES, example_event_files

EXAMPLES = SPEC_EXAMPLES
EVENT_FILES = example_event_files()


def _lines(path: Path) -> list[tuple[int, bytes]]:
    return [
        (number, line.rstrip(b"\r\n"))
        for number, line in enumerate(path.read_bytes().splitlines(keepends=True), start=1)
        if line.strip()
    ]


@pytest.mark.parametrize("path", EVENT_FILES, ids=lambda path: path.name)
def test_every_example_line_is_accepted_offline(path: Path) -> None:
    # README: none of the examples is meant to be rejected
    lines = _lines(path)
    assert lines
    for number, value in lines:
        result = validate_record(value)
        assert isinstance(result, AcceptedEvent), f"{path.name}:{number}: {result}"
        document = json.loads(value)
        assert result.session_id == document["session_id"]
        assert result.event_id == document["event_id"].lower()
        assert result.type == document["type"]


def test_sanitize_example_values() -> None:
    events = [validate_record(value) for _, value in _lines(EXAMPLES / "08-sanitize.events.jsonl")]
    assert all(isinstance(event, AcceptedEvent) for event in events)
    by_type = {event.type: event for event in events if isinstance(event, AcceptedEvent)}
    assert by_type["page_view"].path == "/ab"
    message = by_type["error"].message
    assert message is not None and len(message) == 1000
    assert by_type["context"].metadata == {"key": "val", "nested": {"x": "\ufffd"}}
