"""What ``sessionizer dev status`` reports about one local service."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ServiceState:
    """Whether a service runs (and its pid), and whether it answers at ``address``."""

    name: str
    running: bool
    pid: int | None
    address: str
    reachable: bool
