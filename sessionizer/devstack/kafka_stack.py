"""The local Kafka 3.9.1 broker: single-node KRaft, run from the jars ``make install`` fetched.

Layout under ``<dev_dir>/kafka``: ``server.properties`` and ``log4j.properties`` (rendered from
``dev/kafka/*.template``), ``cluster.id``, ``data/`` (log dirs and KRaft metadata), ``logs/``
(broker logs), ``kafka.out`` (JVM stdout/stderr) and ``kafka.pid``.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import os
import time
from pathlib import Path
from string import Template

from sessionizer.devstack import processes
from sessionizer.devstack.probes import kafka_answers
from sessionizer.devstack.service_state import ServiceState
from sessionizer.errors import StackError
from sessionizer.settings import PROJECT_ROOT, Settings

logger = logging.getLogger(__name__)

KAFKA_VERSION = "3.9.1"
ASSETS_DIR = PROJECT_ROOT / "dev"
LIB_DIR = ASSETS_DIR / "lib"
MAIN_CLASS = "kafka.Kafka"
START_TIMEOUT_S = 120.0
STOP_TIMEOUT_S = 30.0


def new_cluster_id() -> str:
    """16 random bytes, URL-safe base64 without padding (22 characters), like Kafka's Uuid.

    Kafka refuses ids that start with ``-`` (they read as command-line options): draw again.
    """
    while True:
        cluster_id = base64.urlsafe_b64encode(os.urandom(16)).decode().rstrip("=")
        if not cluster_id.startswith("-"):
            return cluster_id


class KafkaStack:
    """Start, stop and inspect the local broker described by ``settings``."""

    name = "kafka"

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.home = settings.dev_dir / "kafka"
        self.data_dir = self.home / "data"
        self.log_dir = self.home / "logs"
        self.pid_file = self.home / "kafka.pid"
        self.out_file = self.home / "kafka.out"
        self.server_props = self.home / "server.properties"
        self.log4j_props = self.home / "log4j.properties"
        self.cluster_id_file = self.home / "cluster.id"

    @property
    def bootstrap_servers(self) -> str:
        return f"127.0.0.1:{self.settings.dev_kafka_port}"

    def pid(self) -> int | None:
        pid = processes.read_pid(self.pid_file)
        return pid if processes.is_running(pid, MAIN_CLASS) else None

    async def status(self) -> ServiceState:
        pid = self.pid()
        reachable = await kafka_answers(self.bootstrap_servers, timeout_s=3.0)
        return ServiceState(self.name, pid is not None, pid, self.bootstrap_servers, reachable)

    async def start(self) -> bool:
        """Start the broker and wait until it answers; False when it was already running."""
        pid = self.pid()
        if pid is not None:
            if not await kafka_answers(self.bootstrap_servers, timeout_s=10.0):
                await self._wait_ready(pid)
            return False
        processes.check_ports_free(
            {
                "SESSIONIZER_DEV_KAFKA_PORT": self.settings.dev_kafka_port,
                "SESSIONIZER_DEV_KAFKA_CONTROLLER_PORT": self.settings.dev_kafka_controller_port,
            },
            "kafka",
        )
        self._check_jars()
        self._render_config()
        await self._format_storage()
        pid = await self._launch()
        await self._wait_ready(pid)
        return True

    async def stop(self) -> bool:
        """Stop the broker (SIGTERM, then SIGKILL); False when it was not running."""
        pid = self.pid()
        if pid is None:
            self.pid_file.unlink(missing_ok=True)
            return False
        killed = await processes.terminate_group(pid, MAIN_CLASS, STOP_TIMEOUT_S)
        if killed:
            logger.warning("kafka (pid %d) had to be killed", pid)
        self.pid_file.unlink(missing_ok=True)
        return True

    # --- internals ---------------------------------------------------------------------

    def _check_jars(self) -> None:
        if not (LIB_DIR / f"kafka_2.13-{KAFKA_VERSION}.jar").is_file():
            raise StackError(
                f"the Kafka {KAFKA_VERSION} jars are missing from {LIB_DIR}: run `make install` "
                "(it fetches them from Maven Central with dev/pom.xml)"
            )

    def _java(self) -> list[str]:
        return [
            "java",
            f"-Xmx{self.settings.dev_kafka_heap}",
            "-Xms128m",
            "-XX:+UseG1GC",
            "-XX:MaxGCPauseMillis=20",
            "-XX:+ExplicitGCInvokesConcurrent",
            "-Djava.awt.headless=true",
            f"-Dlog4j.configuration=file:{self.log4j_props}",
            f"-Dkafka.logs.dir={self.log_dir}",
            "-cp",
            f"{LIB_DIR}/*",
        ]

    def _render_config(self) -> None:
        for folder in (self.home, self.data_dir, self.log_dir):
            folder.mkdir(parents=True, exist_ok=True)
        values = {
            "port": str(self.settings.dev_kafka_port),
            "controller_port": str(self.settings.dev_kafka_controller_port),
            "data_dir": str(self.data_dir),
            "log_dir": str(self.log_dir),
        }
        for template, target in (
            (ASSETS_DIR / "kafka" / "server.properties.template", self.server_props),
            (ASSETS_DIR / "kafka" / "log4j.properties.template", self.log4j_props),
        ):
            target.write_text(Template(template.read_text()).substitute(values))

    def _cluster_id(self) -> str:
        if self.cluster_id_file.is_file():
            existing = self.cluster_id_file.read_text().strip()
            if len(existing) == 22:
                return existing
        cluster_id = new_cluster_id()
        self.cluster_id_file.write_text(cluster_id + "\n")
        return cluster_id

    async def _format_storage(self) -> None:
        cluster_id = self._cluster_id()
        argv = [
            *self._java(),
            "kafka.tools.StorageTool",
            "format",
            "-t",
            cluster_id,
            "-c",
            str(self.server_props),
            "--ignore-formatted",
        ]
        await processes.run_command(argv, timeout_s=120.0)

    async def _launch(self) -> int:
        # sh puts java in the background and exits: java is not our child, so it outlives the
        # CLI or a test session. start_new_session gives it its own process group.
        script = 'out=$1; pidf=$2; shift 2; "$@" >"$out" 2>&1 </dev/null & echo $! >"$pidf"'
        argv = [
            "sh",
            "-c",
            script,
            "sh",
            str(self.out_file),
            str(self.pid_file),
            *self._java(),
            MAIN_CLASS,
            str(self.server_props),
        ]
        proc = await asyncio.create_subprocess_exec(*argv, start_new_session=True)
        if await proc.wait() != 0:
            raise StackError("could not launch the Kafka broker (sh failed)")
        pid = processes.read_pid(self.pid_file)
        if pid is None:
            raise StackError(f"the Kafka launcher wrote no pid to {self.pid_file}")
        logger.info("kafka launched, pid %d", pid)
        return pid

    async def _wait_ready(self, pid: int) -> None:
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if not processes.is_running(pid, MAIN_CLASS) and not await _still_running_after(
                pid, 1.0
            ):
                raise StackError(
                    f"the Kafka broker (pid {pid}) exited during start-up.\n" + self._log_tails()
                )
            if await kafka_answers(self.bootstrap_servers, timeout_s=5.0):
                return
            await asyncio.sleep(0.5)
        raise StackError(
            f"the Kafka broker (pid {pid}) did not answer on {self.bootstrap_servers} within "
            f"{START_TIMEOUT_S:.0f} s; it is left running (sessionizer dev down stops it).\n"
            + self._log_tails()
        )

    def _log_tails(self) -> str:
        parts = []
        for path in (self.out_file, self.log_dir / "server.log"):
            text = processes.tail(Path(path), 30)
            if text:
                parts.append(f"--- last lines of {path} ---\n{text}")
        return "\n".join(parts) or "(no broker log written)"


async def _still_running_after(pid: int, delay_s: float) -> bool:
    """Look again after ``delay_s``: while the launcher's child is exec-ing java, its
    /proc command line can read empty for a moment (seen on a loaded machine), which must not
    count as the broker having exited."""
    await asyncio.sleep(delay_s)
    return processes.is_running(pid, MAIN_CLASS)
