"""bench/e2e: ``sessionizer worker`` as a subprocess with its own names, and what /proc says.

Each run gets a token: raw topic (shared by the runs of one invocation), session stream, DLQ,
app id (so changelog), sink group and Postgres schema are all named after it, and the worker's
RocksDB folder is a temporary directory. Nothing of the shared stack's other data is touched.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from sessionizer.settings import PROJECT_ROOT, Settings

SESSIONIZER = PROJECT_ROOT / ".venv" / "bin" / "sessionizer"
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True, slots=True)
class RunNames:
    """Every name one pipeline run uses."""

    token: str
    raw_topic: str

    @property
    def app_id(self) -> str:
        return f"bench-e2e-{self.token}"

    @property
    def sessions_topic(self) -> str:
        return f"bench-e2e-sessions-{self.token}"

    @property
    def dlq_topic(self) -> str:
        return f"bench-e2e-dlq-{self.token}"

    @property
    def changelog_topic(self) -> str:
        return f"{self.app_id}-sessions-changelog"

    @property
    def schema(self) -> str:
        return f"bench_e2e_{self.token}"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _stat_fields(pid: int) -> list[str]:
    text = Path(f"/proc/{pid}/stat").read_text()
    return text[text.rindex(")") + 2 :].split()


def process_tree(pid: int) -> list[int]:
    """``pid`` and its live descendants (the worker and its sink process)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            parent = int(_stat_fields(int(entry.name))[1])
        except (OSError, ValueError, IndexError):
            continue
        children.setdefault(parent, []).append(int(entry.name))
    tree, todo = [], [pid]
    while todo:
        current = todo.pop()
        tree.append(current)
        todo.extend(children.get(current, []))
    return tree


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process and its live children (all threads), from /proc."""
    total = 0.0
    for member in process_tree(pid):
        try:
            fields = _stat_fields(member)
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / CLOCK_TICKS
    return total


def process_memory_kib(pid: int) -> tuple[int, int] | None:
    """(VmRSS, VmHWM) in KiB of one process, from /proc (None once it is gone)."""
    try:
        lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    except OSError:
        return None
    rss = hwm = 0
    for line in lines:
        if line.startswith("VmRSS:"):
            rss = int(line.split()[1])
        elif line.startswith("VmHWM:"):
            hwm = int(line.split()[1])
    return rss, hwm


def memory_kib(pid: int) -> tuple[int, int]:
    """(VmRSS, VmHWM) in KiB of a process and its live children: resident now, and peak.

    The peak is the sum of each process's own peak (an upper bound of the tree's peak).
    """
    rss = hwm = 0
    for member in process_tree(pid):
        figures = process_memory_kib(member)
        if figures is not None:
            rss += figures[0]
            hwm += figures[1]
    return rss, hwm


def start_profiler(pid: int, output: Path) -> subprocess.Popen[bytes]:
    """py-spy recording ``pid`` as collapsed stacks (stop it with SIGINT to write them)."""
    spy = shutil.which("py-spy") or str(PROJECT_ROOT / ".venv" / "bin" / "py-spy")
    return subprocess.Popen(
        [spy, "record", "--format", "raw", "--rate", "200", "--nonblocking", "--subprocesses",
         "--output", str(output), "--pid", str(pid)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )


class Worker:
    """``sessionizer worker`` (fold, session stream, its sink process) for one run."""

    def __init__(self, base: Settings, names: RunNames, *, partitions: int,
                 extra_env: dict[str, str] | None = None) -> None:
        self.names = names
        self.web_port = free_port()
        self._folder = tempfile.TemporaryDirectory(prefix="bench-e2e-")
        self.log_path = Path(self._folder.name) / "worker.log"
        env = {k: v for k, v in os.environ.items() if not k.startswith("SESSIONIZER_")}
        env.update({
            "KAFKA_BOOTSTRAP_SERVERS": base.kafka_bootstrap_servers,
            "DATABASE_URL": base.database_url,
            "SESSIONIZER_RAW_TOPIC": names.raw_topic,
            "SESSIONIZER_SESSIONS_TOPIC": names.sessions_topic,
            "SESSIONIZER_DLQ_TOPIC": names.dlq_topic,
            "SESSIONIZER_TOPIC_PARTITIONS": str(partitions),
            "SESSIONIZER_WORKER_APP_ID": names.app_id,
            "SESSIONIZER_SINK_GROUP_ID": f"{names.app_id}-sink",
            "SESSIONIZER_DB_SCHEMA": names.schema,
            "SESSIONIZER_WORKER_DATA_DIR": str(Path(self._folder.name) / "data"),
            "SESSIONIZER_WORKER_WEB_PORT": str(self.web_port),
            "SESSIONIZER_WORKER_SESSION_TIMEOUT_S": "10",
            "SESSIONIZER_LOG_LEVEL": "WARNING",
        })
        env.update(extra_env or {})
        self._env = env
        self.process: subprocess.Popen[bytes] | None = None
        self._terminated = False

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def start(self) -> None:
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [str(SESSIONIZER), "worker"], env=self._env, stdout=log,
                stderr=subprocess.STDOUT, cwd=self._folder.name,
            )

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def check_alive(self) -> None:
        if not self.alive():
            raise RuntimeError(f"the worker stopped:\n{self.log_tail()}")

    def terminate(self) -> None:
        """SIGTERM once (a second one would not wait for the graceful stop)."""
        if self.process is not None and self.process.poll() is None and not self._terminated:
            self.process.send_signal(signal.SIGTERM)
            self._terminated = True

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.terminate()
            try:
                self.process.wait(40)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(30)
        self._folder.cleanup()

    def log_tail(self, lines: int = 40) -> str:
        with contextlib.suppress(OSError):
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        return ""

    def _scrape(self) -> dict[str, float]:
        url = f"http://127.0.0.1:{self.web_port}/metrics"
        with urllib.request.urlopen(url, timeout=5) as answer:
            text = answer.read().decode()
        values: dict[str, float] = {}
        for line in text.splitlines():
            if line and not line.startswith("#"):
                name, _, value = line.rpartition(" ")
                with contextlib.suppress(ValueError):
                    values[name] = float(value)
        return values

    async def metrics(self) -> dict[str, float] | None:
        """The worker's /metrics page, sample name -> value (None while it does not answer)."""
        try:
            return await asyncio.to_thread(self._scrape)
        except OSError:
            return None

    async def metric(self, name: str) -> float | None:
        """One metric from the worker's /metrics page (None while it does not answer)."""
        values = await self.metrics()
        return None if values is None else values.get(name)


class WorkerGroup:
    """``count`` workers of one run in one consumer group (as one deploys a worker per core).

    Metrics, CPU time and memory are summed over the workers (and their sink processes).
    """

    def __init__(self, base: Settings, names: RunNames, *, partitions: int, count: int,
                 extra_env: dict[str, str] | None = None) -> None:
        self.workers = [Worker(base, names, partitions=partitions, extra_env=extra_env)
                        for _ in range(count)]

    @property
    def pids(self) -> list[int]:
        return [worker.pid for worker in self.workers]

    def start(self) -> None:
        for worker in self.workers:
            worker.start()

    def check_alive(self) -> None:
        for worker in self.workers:
            worker.check_alive()

    def stop(self) -> None:
        for worker in self.workers:  # all stop at once, then each is waited for
            worker.terminate()
        for worker in self.workers:
            worker.stop()

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(f"--- worker {n}\n{worker.log_tail(lines)}"
                         for n, worker in enumerate(self.workers, start=1))

    async def metric(self, name: str) -> float | None:
        """The sum of one metric over the workers that answer (None if none does)."""
        values = [await worker.metric(name) for worker in self.workers]
        answered = [value for value in values if value is not None]
        return sum(answered) if answered else None

    async def wait_balanced(self, partitions: int, timeout_s: float) -> None:
        """Until every worker reads some raw partitions and together they read all of them."""
        deadline = asyncio.get_running_loop().time() + timeout_s
        while True:
            self.check_alive()
            counts = []
            for worker in self.workers:
                names = await worker.metrics() or {}
                counts.append(sum(1 for name in names
                                  if name.startswith("sessionizer_worker_consumer_lag{")))
            if all(counts) and sum(counts) == partitions:
                return
            if asyncio.get_running_loop().time() > deadline:
                raise RuntimeError(f"workers not balanced after {timeout_s:.0f} s "
                                   f"(partitions per worker: {counts}):\n{self.log_tail()}")
            await asyncio.sleep(0.5)

    def cpu_seconds(self) -> float:
        return sum(cpu_seconds(pid) for pid in self.pids)

    def memory_kib(self) -> tuple[int, int]:
        """(VmRSS, VmHWM) summed over the workers' process trees."""
        pairs = [memory_kib(pid) for pid in self.pids]
        return sum(rss for rss, _ in pairs), sum(hwm for _, hwm in pairs)
