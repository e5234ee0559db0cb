"""CPU per group of processes (psutil, per pid), as a share of one core, and waiting until
the servers are at rest before a measurement."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import psutil  # type: ignore[import-untyped,unused-ignore]

QUIET_SHARE = 0.05  # servers "at rest" below this share of a core


def _cpu_by_pid(pids: Sequence[int]) -> dict[int, float]:
    seconds: dict[int, float] = {}
    for pid in pids:
        with contextlib.suppress(psutil.Error):
            times = psutil.Process(pid).cpu_times()
            seconds[pid] = times.user + times.system
    return seconds


Snapshot = dict[str, dict[int, float]]  # group -> pid -> CPU seconds so far


@dataclass
class CpuMeter:
    """CPU per group of processes between two points, per pid, so that processes which start
    in between count from zero; those which exit in between are missed (an undercount)."""

    groups: dict[str, Callable[[], list[int]]] = field(default_factory=dict)  # name -> pids

    def snapshot(self) -> Snapshot:
        return {name: _cpu_by_pid(find()) for name, find in self.groups.items()}

    def since(self, before: Snapshot, wall_s: float) -> dict[str, float]:
        """Each group's CPU since ``before`` as a share of one core over ``wall_s``."""
        shares = {}
        for name, now in self.snapshot().items():
            earlier = before.get(name, {})
            used = sum(max(0.0, cpu - earlier.get(pid, 0.0)) for pid, cpu in now.items())
            shares[name] = used / wall_s
        return shares


async def wait_quiet(cpu: CpuMeter, groups: Sequence[str], deadline_s: float = 20.0) -> float:
    """Wait until ``groups`` together use under QUIET_SHARE of a core; returns the seconds
    waited. So that one measurement does not pay for the tail of the previous one's work."""
    started = time.monotonic()
    while time.monotonic() - started < deadline_s:
        before = cpu.snapshot()
        await asyncio.sleep(0.5)
        shares = cpu.since(before, 0.5)
        if sum(shares.get(group, 0.0) for group in groups) < QUIET_SHARE:
            break
    return time.monotonic() - started


def describe_cpu(shares: Mapping[str, float]) -> str:
    parts = ", ".join(f"{name} {share:.0%}" for name, share in shares.items())
    return f"CPU, share of one core (2 in all): {parts}"
