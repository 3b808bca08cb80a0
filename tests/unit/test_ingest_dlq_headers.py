"""SPEC 1: the headers of a dead-letter record."""

from __future__ import annotations

from ingest.accepted_event import Rejection, RejectReason
from ingest.dlq_headers import SourceCoordinates, dlq_headers
from ingest.validation import validate_record


def test_headers_from_kafka_coordinates() -> None:
    rejection = Rejection(RejectReason.KEY_MISMATCH, "key b'x' differs", ("session_id",))
    source = SourceCoordinates("analytics.events.raw", 3, 1234, 1_764_064_800_000)
    assert dlq_headers(rejection, source) == [
        ("error.reason", b"key_mismatch"),
        ("error.message", b"key b'x' differs"),
        ("source.topic", b"analytics.events.raw"),
        ("source.partition", b"3"),
        ("source.offset", b"1234"),
        ("source.timestamp", b"1764064800000"),
    ]


def test_headers_from_a_real_rejection_of_a_file_line() -> None:
    rejection = validate_record(b"not json")
    assert isinstance(rejection, Rejection)
    headers = dict(dlq_headers(rejection, SourceCoordinates.from_file("data/events.jsonl", 7)))
    assert headers["error.reason"] == b"bad_json"
    assert headers["error.message"] == rejection.message.encode()
    assert headers["source.topic"] == b"file:data/events.jsonl"
    assert headers["source.partition"] == b"-1"
    assert headers["source.offset"] == b"7"
    assert headers["source.timestamp"] == b"-1"


def test_collector_coordinates() -> None:
    rejection = Rejection(RejectReason.TOO_LARGE, "too big")
    headers = dict(dlq_headers(rejection, SourceCoordinates.from_collector("/v1/events", 42)))
    assert headers["source.topic"] == b"http:/v1/events"
    assert (headers["source.partition"], headers["source.offset"]) == (b"-1", b"-1")
    assert headers["source.timestamp"] == b"42"


def test_message_is_cut_and_never_fails_to_encode() -> None:
    rejection = Rejection(RejectReason.INVALID_EVENT, "\ud800" + "m" * 5000, ("path",))
    headers = dict(dlq_headers(rejection, SourceCoordinates("t", 0, 0)))
    message = headers["error.message"]
    assert message.startswith(b"\\ud800m")
    assert len(message.decode()) == len("\\ud800") + 999
