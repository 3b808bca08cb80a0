"""Process control shared by the local services: pid files, ports, signals, log tails."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import os
import signal
import socket
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from sessionizer.errors import StackError

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class CommandResult:
    """Exit code and combined output of a finished helper command."""

    returncode: int
    output: str


async def run_command(
    argv: Sequence[str], *, timeout_s: float = 120.0, check: bool = True
) -> CommandResult:
    """Run ``argv`` to completion, capturing stdout+stderr; raise StackError on failure if check."""
    logger.debug("running %s", " ".join(argv))
    try:
        proc = await asyncio.create_subprocess_exec(
            *argv,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
    except FileNotFoundError as exc:
        raise StackError(f"cannot run {argv[0]!r}: not found") from exc
    try:
        out, _ = await asyncio.wait_for(proc.communicate(), timeout_s)
    except TimeoutError as exc:
        proc.kill()
        await proc.wait()
        raise StackError(f"{' '.join(argv)} did not finish within {timeout_s:.0f} s") from exc
    result = CommandResult(proc.returncode or 0, out.decode("utf-8", "replace"))
    if check and result.returncode != 0:
        raise StackError(
            f"{' '.join(argv)} failed (exit {result.returncode}):\n{result.output.strip()}"
        )
    return result


def read_pid(pid_file: Path) -> int | None:
    """The pid written in ``pid_file`` (first line), or None when absent or unreadable."""
    try:
        first = pid_file.read_text().split("\n", 1)[0].strip()
        return int(first)
    except (OSError, ValueError):
        return None


def process_cmdline(pid: int) -> str | None:
    """The command line of a live process (NUL separators as spaces), None when it is gone."""
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return None
    if not raw:  # zombie or kernel thread
        return None
    return raw.replace(b"\0", b" ").decode("utf-8", "replace")


def is_running(pid: int | None, marker: str) -> bool:
    """Whether ``pid`` is alive and its command line contains ``marker`` (guards pid reuse)."""
    if pid is None or pid <= 0:
        return False
    cmdline = process_cmdline(pid)
    return cmdline is not None and marker in cmdline


def port_in_use(port: int, host: str = "127.0.0.1") -> bool:
    """Whether something already holds ``host:port`` (a bind like a server's fails)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                return True
            raise StackError(f"cannot check port {host}:{port}: {exc}") from exc
    return False


def check_ports_free(ports: dict[str, int], service: str) -> None:
    """Raise a clear StackError naming the port and its setting when one is already taken."""
    for setting, port in ports.items():
        if port_in_use(port):
            raise StackError(
                f"cannot start {service}: port 127.0.0.1:{port} is already in use by another "
                f"process (setting {setting}; pick a free port with that variable, or stop "
                f"whatever listens there, e.g. a stack started from another checkout)"
            )


async def tcp_open(host: str, port: int, timeout_s: float = 1.0) -> bool:
    """Whether a TCP connection to host:port succeeds within the timeout."""
    try:
        _, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout_s)
    except (OSError, TimeoutError):
        return False
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()
    return True


async def terminate_group(pid: int, marker: str, timeout_s: float) -> bool:
    """SIGTERM the process group of ``pid``, wait, SIGKILL after the timeout.

    Returns True when it had to kill. The process must still match ``marker``.
    """
    if not is_running(pid, marker):
        return False
    try:
        pgid = os.getpgid(pid)
    except ProcessLookupError:
        return False
    _signal_group(pgid, signal.SIGTERM)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if not is_running(pid, marker):
            return False
        await asyncio.sleep(0.2)
    logger.warning("pid %d did not stop within %.0f s: SIGKILL", pid, timeout_s)
    _signal_group(pgid, signal.SIGKILL)
    for _ in range(50):
        if not is_running(pid, marker):
            break
        await asyncio.sleep(0.1)
    return True


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, sig)


def tail(path: Path, lines: int = 40) -> str:
    """The last ``lines`` lines of a text file ('' when it does not exist)."""
    try:
        with path.open("rb") as fh:
            fh.seek(0, os.SEEK_END)
            size = fh.tell()
            fh.seek(max(0, size - 64 * 1024))
            data = fh.read()
    except OSError:
        return ""
    text = data.decode("utf-8", "replace")
    return "\n".join(text.splitlines()[-lines:])
