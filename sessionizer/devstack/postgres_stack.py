"""The local Postgres: Debian's server binaries, a cluster under ``<dev_dir>/pgdata``.

The server refuses to run as root, so when we are root every server command runs as the
unprivileged ``postgres`` user (``runuser -u postgres --``); that user must be able to enter
every folder above the data folder. Layout: ``pgdata/`` (the cluster, owned by that user) and
``pgrun/`` (socket folder and ``server.log``).
"""

from __future__ import annotations

import asyncio
import logging
import os
import pwd
import re
import shutil
import time
from pathlib import Path

import asyncpg

from sessionizer.devstack import processes
from sessionizer.devstack.probes import postgres_answers
from sessionizer.devstack.service_state import ServiceState
from sessionizer.errors import StackError
from sessionizer.settings import Settings

logger = logging.getLogger(__name__)

POSTGRES_ROOT = Path("/usr/lib/postgresql")
SERVER_USER = "postgres"
APP_ROLE = "sessionizer"
APP_DATABASE = "sessionizer"
START_TIMEOUT_S = 60


def find_bin_dir() -> Path | None:
    """The ``bin`` folder of the newest Debian Postgres installed, or None."""
    found: list[tuple[int, Path]] = []
    if POSTGRES_ROOT.is_dir():
        for child in POSTGRES_ROOT.iterdir():
            if re.fullmatch(r"\d+", child.name) and (child / "bin" / "postgres").is_file():
                found.append((int(child.name), child / "bin"))
    return max(found)[1] if found else None


class PostgresStack:
    """Create, start, stop and inspect the local Postgres cluster described by ``settings``."""

    name = "postgres"

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.data_dir = settings.dev_dir / "pgdata"
        self.run_dir = settings.dev_dir / "pgrun"
        self.log_file = self.run_dir / "server.log"
        self.as_root = os.geteuid() == 0

    @property
    def port(self) -> int:
        return self.settings.dev_postgres_port

    @property
    def database_url(self) -> str:
        return f"postgresql://{APP_ROLE}@127.0.0.1:{self.port}/{APP_DATABASE}"

    @property
    def admin_url(self) -> str:
        user = SERVER_USER if self.as_root else pwd.getpwuid(os.geteuid()).pw_name
        return f"postgresql://{user}@127.0.0.1:{self.port}/postgres"

    def pid(self) -> int | None:
        pid = processes.read_pid(self.data_dir / "postmaster.pid")
        return pid if processes.is_running(pid, "postgres") else None

    async def status(self) -> ServiceState:
        pid = self.pid()
        reachable = await postgres_answers(self.database_url, timeout_s=3.0)
        address = f"127.0.0.1:{self.port}"
        return ServiceState(self.name, pid is not None, pid, address, reachable)

    async def start(self) -> bool:
        """Start the server (creating the cluster first); False when it was already running."""
        if self.pid() is not None:
            await self._wait_ready(self.admin_url)
            await self._ensure_role_and_database()
            return False
        processes.check_ports_free({"SESSIONIZER_DEV_POSTGRES_PORT": self.port}, "postgres")
        bin_dir = await self._bin_dir()
        await self._prepare_folders()
        if not (self.data_dir / "PG_VERSION").is_file():
            await self._initdb(bin_dir)
        self._write_config()
        await processes.run_command(
            self._as_server_user(
                str(bin_dir / "pg_ctl"),
                "-D",
                str(self.data_dir),
                "-l",
                str(self.log_file),
                "-w",
                "-t",
                str(START_TIMEOUT_S),
                "start",
            ),
            timeout_s=START_TIMEOUT_S + 10,
            check=False,
        )
        await self._wait_ready(self.admin_url)
        await self._ensure_role_and_database()
        return True

    async def stop(self) -> bool:
        """Stop the server (``pg_ctl stop -m fast``); False when it was not running."""
        if self.pid() is None:
            return False
        bin_dir = find_bin_dir()
        if bin_dir is None:
            raise StackError("postgres is running but no pg_ctl was found to stop it")
        await processes.run_command(
            self._as_server_user(
                str(bin_dir / "pg_ctl"),
                "-D",
                str(self.data_dir),
                "-m",
                "fast",
                "-w",
                "-t",
                "60",
                "stop",
            ),
            timeout_s=70,
        )
        return True

    # --- internals ---------------------------------------------------------------------

    def _as_server_user(self, *argv: str) -> list[str]:
        return ["runuser", "-u", SERVER_USER, "--", *argv] if self.as_root else list(argv)

    async def _bin_dir(self) -> Path:
        bin_dir = find_bin_dir()
        if bin_dir is not None:
            return bin_dir
        if not self.as_root or shutil.which("apt-get") is None:
            raise StackError(
                f"no Postgres server under {POSTGRES_ROOT}: install Debian's `postgresql` package"
            )
        logger.warning("no Postgres server found: installing Debian's postgresql package")
        print("sessionizer dev: installing postgresql with apt-get (once)...", flush=True)
        env_argv = ["env", "DEBIAN_FRONTEND=noninteractive"]
        await processes.run_command([*env_argv, "apt-get", "update"], timeout_s=600)
        await processes.run_command(
            [*env_argv, "apt-get", "install", "-y", "--no-install-recommends", "postgresql"],
            timeout_s=900,
        )
        bin_dir = find_bin_dir()
        if bin_dir is None:
            raise StackError("apt-get installed postgresql but no server binaries were found")
        return bin_dir

    async def _prepare_folders(self) -> None:
        self.settings.dev_dir.mkdir(parents=True, exist_ok=True)
        for folder in (self.data_dir, self.run_dir):
            folder.mkdir(parents=True, exist_ok=True)
        self.data_dir.chmod(0o700)
        if not self.as_root:
            return
        try:
            server = pwd.getpwnam(SERVER_USER)
        except KeyError as exc:
            raise StackError(
                f"there is no `{SERVER_USER}` user to run the server as (Debian's postgresql "
                "package creates it)"
            ) from exc
        await self._check_traversable(server.pw_name)
        for folder in (self.data_dir, self.run_dir):
            os.chown(folder, server.pw_uid, server.pw_gid)
            for child in folder.rglob("*"):
                if child.stat().st_uid != server.pw_uid:
                    os.chown(child, server.pw_uid, server.pw_gid, follow_symlinks=False)

    async def _check_traversable(self, user: str) -> None:
        target = self.data_dir.parent.resolve()
        probe = await processes.run_command(
            ["runuser", "-u", user, "--", "test", "-x", str(target)], check=False
        )
        if probe.returncode == 0:
            return
        blocked = target
        for folder in reversed(target.parents):
            step = await processes.run_command(
                ["runuser", "-u", user, "--", "test", "-x", str(folder)], check=False
            )
            if step.returncode != 0:
                blocked = folder
                break
        raise StackError(
            f"the `{user}` user cannot enter {blocked}, a folder above the Postgres data folder "
            f"{self.data_dir}: allow it (e.g. `chmod o+x {blocked}`) or set "
            "SESSIONIZER_DEV_DIR to a folder it can reach"
        )

    async def _initdb(self, bin_dir: Path) -> None:
        logger.info("creating a Postgres cluster in %s", self.data_dir)
        await processes.run_command(
            self._as_server_user(
                str(bin_dir / "initdb"),
                "-D",
                str(self.data_dir),
                "-U",
                SERVER_USER,
                "-E",
                "UTF8",
                "--locale=C.UTF-8",
                "--auth-local=trust",
                "--auth-host=trust",
                "--no-instructions",
            ),
            timeout_s=180,
        )
        postgresql_conf = self.data_dir / "postgresql.conf"
        with postgresql_conf.open("a") as fh:
            fh.write("\n# sessionizer dev: settings rendered at every start\n")
            fh.write("include_if_exists = 'sessionizer.conf'\n")

    def _write_config(self) -> None:
        conf = self.data_dir / "sessionizer.conf"
        socket_dir = str(self.run_dir).replace("'", "''")
        conf.write_text(
            "# Written by sessionizer dev up at every start (from Settings); do not edit.\n"
            "listen_addresses = '127.0.0.1'\n"
            f"port = {self.port}\n"
            f"unix_socket_directories = '{socket_dir}'\n"
            "max_connections = 200\n"
            "shared_buffers = 128MB\n"
            "fsync = off\n"
            "synchronous_commit = off\n"
            "full_page_writes = off\n"
        )
        if self.as_root:
            server = pwd.getpwnam(SERVER_USER)
            os.chown(conf, server.pw_uid, server.pw_gid)

    async def _wait_ready(self, dsn: str) -> None:
        started = time.monotonic()
        while time.monotonic() - started < START_TIMEOUT_S:
            if await postgres_answers(dsn, timeout_s=3.0):
                return
            if self.pid() is None and time.monotonic() - started > 5:
                break  # no server process: waiting longer will not help
            await asyncio.sleep(0.3)
        raise StackError(
            f"Postgres did not accept connections on 127.0.0.1:{self.port}.\n"
            f"--- last lines of {self.log_file} ---\n{processes.tail(self.log_file, 30)}"
        )

    async def _ensure_role_and_database(self) -> None:
        conn = await asyncpg.connect(self.admin_url, timeout=10)
        try:
            has_role = await conn.fetchval("select 1 from pg_roles where rolname = $1", APP_ROLE)
            if not has_role:
                await conn.execute(f'create role "{APP_ROLE}" superuser login')
            has_db = await conn.fetchval(
                "select 1 from pg_database where datname = $1", APP_DATABASE
            )
            if not has_db:
                await conn.execute(f'create database "{APP_DATABASE}" owner "{APP_ROLE}"')
        finally:
            await conn.close()
