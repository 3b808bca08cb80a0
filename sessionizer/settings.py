"""Every setting of sessionizer, in one pydantic-settings class.

Built once at an entry point (the CLI, a test fixture) and passed in: nothing else in the
code base reads the environment. ``KAFKA_BOOTSTRAP_SERVERS`` and ``DATABASE_URL`` are read
under those names; every other setting is read from ``SESSIONIZER_<NAME>``.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent


class Settings(BaseSettings):
    """All settings; see the table in README.md."""

    model_config = SettingsConfigDict(env_prefix="SESSIONIZER_", extra="ignore")

    # --- connections -----------------------------------------------------------------
    kafka_bootstrap_servers: str = Field(
        default="127.0.0.1:19092",
        validation_alias=AliasChoices("KAFKA_BOOTSTRAP_SERVERS", "kafka_bootstrap_servers"),
        description="Kafka bootstrap servers, comma separated.",
    )
    database_url: str = Field(
        default="postgresql://sessionizer@127.0.0.1:55432/sessionizer",
        validation_alias=AliasChoices("DATABASE_URL", "database_url"),
        description="Postgres connection URL.",
    )

    # --- topics ----------------------------------------------------------------------
    raw_topic: str = Field(default="analytics.events.raw", description="Raw event topic.")
    sessions_topic: str = Field(
        default="analytics.sessions.batches", description="Session stream (batch snapshots)."
    )
    dlq_topic: str = Field(default="analytics.events.dlq", description="Dead-letter topic.")
    topic_partitions: int = Field(
        default=6, ge=1, description="Partitions of topics created when missing."
    )
    topic_replication_factor: int = Field(
        default=1, ge=1, description="Replication factor of topics created when missing."
    )

    # --- fold ------------------------------------------------------------------------
    gap_ms: int = Field(
        default=1_800_000, ge=0, description="Session gap GAP in ms (0 disables the gap rule)."
    )
    flush_interval_s: float = Field(
        default=10.0, gt=0, description="Every dirty batch is emitted at least this often (s)."
    )

    # --- producer --------------------------------------------------------------------
    producer_linger_ms: int = Field(default=5, ge=0, description="Producer linger (ms).")
    producer_max_batch_size: int = Field(
        default=262_144, ge=1024, description="Producer batch size (bytes per partition)."
    )

    # --- HTTP collector ----------------------------------------------------------------
    collector_host: str = Field(default="127.0.0.1", description="Collector bind address.")
    collector_port: int = Field(default=8080, ge=0, le=65535, description="Collector port.")
    collector_token: str | None = Field(
        default=None, description="Bearer token the collector requires (none: open)."
    )
    collector_cors_origins: list[str] = Field(
        default_factory=list, description="Origins allowed by CORS (JSON list)."
    )

    # --- worker ----------------------------------------------------------------------
    worker_app_id: str = Field(default="sessionizer", description="Faust app id / group.")
    worker_store: str = Field(
        default="rocksdb://", description="Faust table store (rocksdb:// or memory://)."
    )
    worker_data_dir: Path = Field(
        default=PROJECT_ROOT / ".dev" / "worker-data", description="Worker state folder."
    )
    worker_web_port: int = Field(default=6066, ge=0, le=65535, description="Worker web port.")
    worker_batch_size: int = Field(
        default=5000, ge=1, description="Max raw events per micro-batch."
    )
    worker_state_write_interval_s: float = Field(
        default=5.0,
        ge=0,
        description="How often the worker writes changed session states to the table's "
        "changelog (s); raw offsets are committed only after (0: after every micro-batch).",
    )
    worker_batch_timeout_s: float = Field(
        default=0.5, gt=0, description="Max wait to fill a micro-batch (s)."
    )
    worker_run_sink: bool = Field(
        default=True, description="Run the Postgres sink in a child process of the worker."
    )
    stats_interval_s: float = Field(
        default=10.0, gt=0, description="Interval of the worker's INFO stats line (s)."
    )
    worker_state_cache_size: int = Field(
        default=5_000, ge=1, description="Decoded session states the worker keeps in memory."
    )
    worker_rocksdb_cache_mib: int = Field(
        default=1,
        ge=1,
        description="RocksDB block cache per table partition (MiB); write buffers are "
        "2 x 1 MiB per partition (Faust's defaults are 2 GiB and 3 x 64 MiB).",
    )
    worker_web_bind: str = Field(
        default="127.0.0.1", description="Address the worker's web server (/metrics) binds to."
    )
    worker_session_timeout_s: float = Field(
        default=30.0,
        ge=6,
        description="Kafka consumer session timeout of the worker (s): how soon a dead "
        "worker's partitions move to the others.",
    )

    # --- sink ------------------------------------------------------------------------
    sink_batch_size: int = Field(default=1000, ge=1, description="Max snapshots per write.")
    sink_batch_age_s: float = Field(
        default=1.0, gt=0, description="Max age of a pending sink batch (s)."
    )
    sink_group_id: str = Field(default="sessionizer-sink", description="Sink consumer group.")
    sink_retry_initial_s: float = Field(
        default=0.2, gt=0, description="First retry delay of the sink when Postgres fails (s)."
    )
    sink_retry_max_s: float = Field(
        default=10.0, gt=0, description="Longest retry delay of the sink (s, with jitter)."
    )
    db_schema: str = Field(
        default="public", description="Postgres schema of the tables (migrate and sink)."
    )

    # --- local stack -------------------------------------------------------------------
    dev_dir: Path = Field(
        default=PROJECT_ROOT / ".dev", description="Folder of the local stack (git-ignored)."
    )
    dev_kafka_port: int = Field(default=19092, description="Local Kafka broker port.")
    dev_kafka_controller_port: int = Field(default=19093, description="Local KRaft port.")
    dev_kafka_heap: str = Field(default="768m", description="Local Kafka max heap (-Xmx).")
    dev_postgres_port: int = Field(default=55432, description="Local Postgres port.")

    log_level: str = Field(default="INFO", description="Log level.")
