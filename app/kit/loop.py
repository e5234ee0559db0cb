"""Running a long-lived process's event loop: uvloop where it is installed.

``uvicorn[standard]`` brings uvloop on Linux and macOS, and ``ordersync serve`` runs on it; the
worker spends much of its CPU in the event loop's socket handling (Postgres, marketplace calls),
which uvloop does in C. Elsewhere (Windows) the standard loop does the same work, slower.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


def _loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    try:
        import uvloop
    except ImportError:  # pragma: no cover - platforms without uvloop wheels
        return None
    return uvloop.new_event_loop


def run(main: Coroutine[Any, Any, T]) -> T:
    with asyncio.Runner(loop_factory=_loop_factory()) as runner:
        return runner.run(main)
