"""Settings come from KAFKA_BOOTSTRAP_SERVERS, DATABASE_URL and SESSIONIZER_* variables."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from pydantic import ValidationError

from sessionizer.settings import Settings

CONNECTION_VARS = ("KAFKA_BOOTSTRAP_SERVERS", "DATABASE_URL")


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """No sessionizer variables from the outer environment (make test exports some)."""
    for name in list(os.environ):
        if name.startswith("SESSIONIZER_") or name in CONNECTION_VARS:
            monkeypatch.delenv(name)
    return monkeypatch


def test_connection_variables_are_read_without_prefix(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("KAFKA_BOOTSTRAP_SERVERS", "kafka-a:9092,kafka-b:9092")
    clean_env.setenv("DATABASE_URL", "postgresql://u@db:5432/x")
    settings = Settings()
    assert settings.kafka_bootstrap_servers == "kafka-a:9092,kafka-b:9092"
    assert settings.database_url == "postgresql://u@db:5432/x"
    assert {"kafka_bootstrap_servers", "database_url"} <= settings.model_fields_set


def test_defaults_point_at_the_local_stack(clean_env: pytest.MonkeyPatch) -> None:
    settings = Settings()
    assert settings.kafka_bootstrap_servers == f"127.0.0.1:{settings.dev_kafka_port}"
    assert settings.database_url.endswith(f"@127.0.0.1:{settings.dev_postgres_port}/sessionizer")
    assert settings.gap_ms == 30 * 60 * 1000
    assert "kafka_bootstrap_servers" not in settings.model_fields_set


def test_prefixed_variables_are_parsed_to_their_types(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("SESSIONIZER_GAP_MS", "60000")
    clean_env.setenv("SESSIONIZER_FLUSH_INTERVAL_S", "2.5")
    clean_env.setenv("SESSIONIZER_RAW_TOPIC", "my.raw")
    clean_env.setenv("SESSIONIZER_WORKER_RUN_SINK", "false")
    clean_env.setenv("SESSIONIZER_COLLECTOR_CORS_ORIGINS", '["https://a.example"]')
    clean_env.setenv("SESSIONIZER_DEV_DIR", "/tmp/elsewhere")
    settings = Settings()
    assert settings.gap_ms == 60000
    assert settings.flush_interval_s == 2.5
    assert settings.raw_topic == "my.raw"
    assert settings.worker_run_sink is False
    assert settings.collector_cors_origins == ["https://a.example"]
    assert settings.dev_dir == Path("/tmp/elsewhere")


def test_unprefixed_names_of_other_settings_are_ignored(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("GAP_MS", "5")
    assert Settings().gap_ms == 30 * 60 * 1000


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("SESSIONIZER_GAP_MS", "-1"),
        ("SESSIONIZER_GAP_MS", "soon"),
        ("SESSIONIZER_FLUSH_INTERVAL_S", "0"),
    ],
)
def test_bad_values_are_rejected(clean_env: pytest.MonkeyPatch, name: str, value: str) -> None:
    clean_env.setenv(name, value)
    with pytest.raises(ValidationError):
        Settings()
