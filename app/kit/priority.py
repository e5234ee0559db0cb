"""Giving up the CPU to the API: a background process's scheduling priority.

On a machine the worker shares with the API, every CPU slice the worker takes can delay an ack,
and Lazada allows 500 ms and stops pushing to an app that fails half of them. Syncs can wait.
``idle`` is Linux's SCHED_IDLE: the worker runs only when no other process wants the CPU, so
under a burst it waits and catches up afterwards (its jobs are in Postgres meanwhile). Nice 10
(``low``) still takes about a tenth of a contended core. Lowering one's own priority needs no
privilege; where SCHED_IDLE does not exist, ``idle`` becomes nice 19.
"""

from __future__ import annotations

import os
from typing import Literal

Priority = Literal["idle", "low", "normal"]


def lower_priority(priority: Priority) -> str:
    """Apply ``priority`` to this process; returns what was applied, for the log."""
    if priority == "normal":
        return "normal"
    if priority == "idle":
        if hasattr(os, "sched_setscheduler") and hasattr(os, "SCHED_IDLE"):
            try:
                os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
                return "SCHED_IDLE"
            except OSError:
                pass
        os.nice(19 - os.nice(0))
        return "nice 19"
    os.nice(max(0, 10 - os.nice(0)))
    return "nice 10"
