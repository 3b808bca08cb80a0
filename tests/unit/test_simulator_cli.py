"""`sessionizer simulate` as a command (file output; Kafka output is an integration test)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ingest.traffic_simulator import SimulationConfig, TrafficSimulator
from sessionizer.cli import main


def test_writes_the_simulator_bytes_and_a_summary(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "traffic.jsonl"
    code = main(["simulate", "--seed", "12", "--sessions", "40", "-o", str(target)])
    assert code == 0
    simulator = TrafficSimulator(SimulationConfig(seed=12, sessions=40))
    expected = b"".join(record.value + b"\n" for record in simulator.records())
    assert target.read_bytes() == expected
    err = capsys.readouterr().err
    assert "40 sessions" in err
    assert f"{simulator.summary.events} records" in err


def test_options_reach_the_generator(tmp_path: Path) -> None:
    target = tmp_path / "traffic.jsonl"
    code = main(
        [
            "simulate",
            "--events",
            "500",
            "--bad-share",
            "0",
            "--duplicate-share",
            "0",
            "--metadata",
            "plan,team",
            "--start",
            "2030-01-02T03:04:05Z",
            "-o",
            str(target),
        ]
    )
    assert code == 0
    lines = [json.loads(line) for line in target.read_bytes().splitlines()]
    assert len(lines) == 500
    assert min(line["received_at"] for line in lines if "received_at" in line) >= "2030-01-02"
    assert len({line["event_id"] for line in lines}) == 500  # no duplicates, no bad records
    keys = set().union(*(line["metadata"] for line in lines if line["type"] == "context"))
    assert {"plan", "team_id"} <= keys
    assert not keys & {"workspace_size", "experiment_variant"}


@pytest.mark.parametrize(
    "argv",
    [
        ["simulate", "--sessions", "5", "--rate", "10"],
        ["simulate", "--sessions", "5", "--topic", "x"],
    ],
)
def test_kafka_options_need_to_kafka(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == 2
    assert "--to-kafka" in capsys.readouterr().err


@pytest.mark.parametrize(
    "argv",
    [
        ["simulate", "--bad-share", "2"],
        ["simulate", "--metadata", "favourite_colour"],
        ["simulate", "--start", "yesterday"],
        ["simulate", "--sessions", "1", "--events", "1"],
    ],
)
def test_bad_arguments_exit_2(argv: list[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
