"""``ordersync worker`` gives the CPU up to the API: checked in child processes, so the test
process keeps its own priority."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

_PROBE = """
import os, sys
from app.kit.priority import lower_priority
applied = lower_priority(sys.argv[1])
policy = os.sched_getscheduler(0) if hasattr(os, "sched_getscheduler") else -1
print(applied, policy, os.nice(0))
"""


def _probe(priority: str) -> tuple[str, int, int]:
    result = subprocess.run(
        [sys.executable, "-c", _PROBE, priority],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    *applied, policy, nice = result.stdout.split()
    return " ".join(applied), int(policy), int(nice)


@pytest.mark.skipif(not hasattr(os, "SCHED_IDLE"), reason="SCHED_IDLE is Linux-only")
def test_idle_runs_only_on_spare_cpu() -> None:
    applied, policy, _ = _probe("idle")
    assert applied == "SCHED_IDLE"
    assert policy == os.SCHED_IDLE


def test_low_is_nice_ten() -> None:
    applied, policy, nice = _probe("low")
    assert applied == "nice 10"
    assert nice == max(10, os.nice(0))
    if hasattr(os, "SCHED_OTHER"):
        assert policy == os.SCHED_OTHER


def test_normal_changes_nothing() -> None:
    applied, _, nice = _probe("normal")
    assert applied == "normal"
    assert nice == os.nice(0)
