"""What every benchmark module shares: the error that ends a run, timestamped progress lines,
and checking a setup call's answer."""

from __future__ import annotations

import time

import httpx


class BenchError(RuntimeError):
    """Something the benchmark needs did not happen (a server did not start, a call failed)."""


_T0 = time.monotonic()


def say(message: str) -> None:
    print(f"[{time.monotonic() - _T0:6.1f}s] {message}", flush=True)


def expect(response: httpx.Response, status: int, what: str) -> None:
    if response.status_code != status:
        raise BenchError(f"could not {what}: HTTP {response.status_code} {response.text[:500]}")
