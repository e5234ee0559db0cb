"""The benchmarks' world: the sandboxes and the service as subprocesses on free 127.0.0.1 ports,
their environment and logs, the throw-away database (``bench.pg``), readiness waits, the CPU
meter's process groups (``bench.cpu``), the sandboxes' call counters and the CLI runner.

Everything started here is stopped through the caller's ``AsyncExitStack``, in reverse order,
also on Ctrl-C or SIGTERM; the temp directory goes too.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from app.db import to_libpq_url
from bench.common import BenchError, expect, say
from bench.cpu import CpuMeter
from bench.pg import (
    create_database,
    drop_database,
    embedded_url,
    postgres_pids,
    stop_embedded_postgres,
)

HOST = "127.0.0.1"  # every server listens on loopback only
SANDBOX_NICE = 10
REPO_ROOT = Path(__file__).resolve().parent.parent
APP_KEY = "100200"  # the Lazada sandbox's app, which signs its pushes
APP_SECRET = "bench-secret-0123456789abcdef"
STARTUP_DEADLINE_S = 180.0  # the first embedded Postgres start runs initdb and migrations
SHORT_STARTUP_DEADLINE_S = 60.0


# --- subprocesses -----------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


@dataclass
class Proc:
    name: str
    popen: subprocess.Popen[bytes]
    log_path: Path

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def tail(self, lines: int = 40) -> str:
        return "\n".join(self.log_text().splitlines()[-lines:])

    def stop(self, timeout: float = 30.0) -> None:
        """SIGINT, then SIGKILL if it does not exit in time.

        Not SIGTERM: uvicorn shuts down gracefully on both but then re-raises the signal, and
        SIGTERM's default action ends the process without running atexit hooks, which is where
        pgserver stops the embedded Postgres. SIGINT becomes KeyboardInterrupt and they run.
        """
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGINT)
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                say(f"{self.name} did not stop in {timeout:.0f}s; killing pid {self.pid}")
                self.popen.kill()
                self.popen.wait(10)


def spawn(name: str, argv: list[str], *, env: Mapping[str, str], cwd: Path) -> Proc:
    log_path = cwd / f"{name}.log"
    with log_path.open("wb") as log:
        popen = subprocess.Popen(
            argv,
            cwd=cwd,
            env=dict(env),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # Ctrl-C reaches only us; we stop them in order
        )
    return Proc(name, popen, log_path)


def ordersync_executable() -> str:
    beside = Path(sys.executable).with_name("ordersync")
    found = str(beside) if beside.exists() else shutil.which("ordersync")
    if not found:
        raise BenchError("the ordersync command is not installed (pip install -e .)")
    return found


async def wait_logged(proc: Proc, text: str, deadline_s: float) -> None:
    """Poll ``proc``'s log until ``text`` appears (for processes without an HTTP endpoint)."""
    deadline = time.monotonic() + deadline_s
    while text not in proc.log_text():
        if not proc.alive():
            raise BenchError(f"{proc.name} exited with {proc.popen.returncode}:\n{proc.tail()}")
        if time.monotonic() > deadline:
            raise BenchError(f"{proc.name} not ready after {deadline_s:.0f}s:\n{proc.tail()}")
        await asyncio.sleep(0.1)


async def wait_ready(proc: Proc, url: str, deadline_s: float) -> None:
    """Poll ``url`` until it answers 200; fail early if the process dies."""
    deadline = time.monotonic() + deadline_s
    async with httpx.AsyncClient(timeout=2.0) as client:
        while True:
            if not proc.alive():
                raise BenchError(
                    f"{proc.name} exited with {proc.popen.returncode} during start-up:\n"
                    + proc.tail()
                )
            with contextlib.suppress(httpx.TransportError):
                if (await client.get(url)).status_code == 200:
                    return
            if time.monotonic() > deadline:
                raise BenchError(f"{proc.name} not ready after {deadline_s:.0f}s:\n{proc.tail()}")
            await asyncio.sleep(0.1)


_LOG_PROBLEM = re.compile(r"\[(warning|error|critical)\s*\]|Traceback|ERROR|WARNING")


def report_log(proc: Proc) -> None:
    """Warnings and errors ``proc`` logged during the run (the first few distinct ones)."""
    lines = [line for line in proc.log_text().splitlines() if _LOG_PROBLEM.search(line)]
    if not lines:
        print(f"{proc.name} log: no warnings or errors")
        return
    print(f"{proc.name} log: {len(lines)} warning/error lines; first distinct ones:")
    seen: set[str] = set()
    for line in lines:
        shape = re.sub(r"\d+", "N", line[28:140])
        if shape not in seen:
            seen.add(shape)
            print(f"  {line[:300]}")
        if len(seen) >= 8:
            break


def spawn_sandboxes(
    ports: Mapping[str, int], urls: Mapping[str, str], env: Mapping[str, str], run_dir: Path
) -> Proc:
    """``ordersync sandbox``: Lazada's stand-in on ``ports["sandbox"]``, pushing to the service's
    webhook, and Shoplazza's and Newegg's on theirs (fixed ports unless told otherwise)."""
    argv = [
        ordersync_executable(), "sandbox", "--host", HOST, "--port", str(ports["sandbox"]),
        "--app-key", APP_KEY, "--app-secret", APP_SECRET,
        "--webhook-url", f"{urls['service']}/webhooks/lazada",
        "--shoplazza-port", str(ports["shoplazza"]), "--newegg-port", str(ports["newegg"]),
    ]  # fmt: skip
    return spawn("sandbox", argv, env=env, cwd=run_dir)


# --- sandbox call counters --------------------------------------------------------------------


async def reset_calls(sandbox: httpx.AsyncClient) -> None:
    expect(await sandbox.delete("/_sandbox/calls"), 200, "reset the sandbox call counters")


async def sandbox_calls(sandbox: httpx.AsyncClient) -> tuple[int, dict[str, int]]:
    """A sandbox's ``/_sandbox/calls``: (total, by API)."""
    response = await sandbox.get("/_sandbox/calls")
    expect(response, 200, "read the sandbox call counters")
    document = response.json()
    return int(document["total"]), dict(document["by_api"])


# --- the servers ------------------------------------------------------------------------------


def service_env(urls: Mapping[str, str], api_token: str, log_level: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        {
            "LAZADA_APP_KEY": APP_KEY,
            "LAZADA_APP_SECRET": APP_SECRET,
            "LAZADA_API_BASE": f"{urls['sandbox']}/rest",
            "LAZADA_AUTH_BASE": f"{urls['sandbox']}/rest",
            "SHOPLAZZA_API_BASE": urls["shoplazza"],
            "NEWEGG_API_BASE": urls["newegg"],
            "ORDERSYNC_API_TOKENS": api_token,
            "ORDERSYNC_LOG_LEVEL": log_level,
        }
    )
    # Credentials are stored encrypted: a throw-away Fernet key unless one is configured.
    if not env.get("ORDERSYNC_ENCRYPTION_KEYS"):
        env["ORDERSYNC_ENCRYPTION_KEYS"] = base64.urlsafe_b64encode(
            secrets.token_bytes(32)
        ).decode()
    # The migrations import ``migrations.helpers``, which is not installed with the package:
    # outside the repository root, ``serve`` cannot migrate without this.
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
    return env


@dataclass
class Servers:
    """The started processes, their URLs, a database connection and clients for the Lazada
    sandbox's control API and for our API (with the bootstrap bearer token)."""

    urls: dict[str, str]  # sandbox (Lazada), shoplazza, newegg, service, and bare when started
    sandbox_proc: Proc
    service: Proc
    worker: Proc | None
    bare_proc: Proc | None
    pgdata: Path | None  # the embedded Postgres' data, when it is the one used
    db: Any  # an asyncpg connection to the service's database
    sandbox: httpx.AsyncClient
    api: httpx.AsyncClient
    api_token: str  # the bootstrap bearer token (ORDERSYNC_API_TOKENS), every scope
    more_workers: list[Proc] = field(default_factory=list)  # beyond the first, when asked

    @property
    def ordersync(self) -> list[Proc]:
        """The service, and the workers when they run apart."""
        workers = [] if self.worker is None else [self.worker, *self.more_workers]
        return [self.service, *workers]

    def cpu_meter(self) -> CpuMeter:
        cpu = CpuMeter()
        service_pid = self.service.pid
        cpu.groups["service"] = lambda: [service_pid]
        if self.worker is not None:
            worker_pids = [self.worker.pid, *(w.pid for w in self.more_workers)]
            cpu.groups["worker"] = lambda: worker_pids
        if (pgdata := self.pgdata) is not None:
            cpu.groups["postgres"] = lambda: postgres_pids(pgdata)
        sandbox_pid = self.sandbox_proc.pid
        cpu.groups["sandbox"] = lambda: [sandbox_pid]  # all three sandboxes: one process
        if self.bare_proc is not None:
            bare_pid = self.bare_proc.pid
            cpu.groups["bare"] = lambda: [bare_pid]
        cpu.groups["bench"] = lambda: [os.getpid()]
        return cpu


async def start_servers(
    exits: contextlib.AsyncExitStack,
    *,
    log_level: str,
    separate_worker: bool = False,
    workers: int = 1,
    settings: Mapping[str, str] | None = None,
    bare: bool = False,
) -> Servers:
    """Start ``ordersync sandbox``, ``ordersync serve`` (and ``workers`` ``ordersync worker``
    processes apart when ``separate_worker``), and the bare endpoint when ``bare``; wait until
    they answer. ``settings``: extra environment for the service and its workers."""
    run_dir = Path(tempfile.mkdtemp(prefix="ordersync-bench-"))
    exits.callback(shutil.rmtree, run_dir, ignore_errors=True)
    api_token = "bench-" + secrets.token_hex(12)
    names = ["sandbox", "shoplazza", "newegg", "service"] + (["bare"] if bare else [])
    ports = {name: free_port() for name in names}
    urls = {name: f"http://{HOST}:{port}" for name, port in ports.items()}
    env = service_env(urls, api_token, log_level)
    env.update(settings or {})
    pgdata: Path | None = None

    server_url = os.environ.get("DATABASE_URL")
    if server_url:
        say("DATABASE_URL is set: creating a fresh database for this run")
        database_url, name = await create_database(server_url)
        exits.push_async_callback(drop_database, server_url, name)
        env["DATABASE_URL"] = database_url
    else:
        data_dir = run_dir / "data"
        data_dir.mkdir()
        pgdata = data_dir / "pgdata"
        env.pop("DATABASE_URL", None)
        env["ORDERSYNC_DATA_DIR"] = str(data_dir)
        exits.callback(stop_embedded_postgres, pgdata)
        say(f"DATABASE_URL is unset: the service starts an embedded Postgres in {data_dir}")

    exe = ordersync_executable()
    say(f"starting the sandbox on {urls['sandbox']} (nice {SANDBOX_NICE}: it stands in for Lazada)")
    sandbox_proc = spawn_sandboxes(ports, urls, env, run_dir)
    exits.callback(sandbox_proc.stop)
    # The sandbox stands in for Lazada, whose servers are not on our machine: its CPU is not the
    # service's, so it yields to everything else on the shared cores.
    os.setpriority(os.PRIO_PROCESS, sandbox_proc.popen.pid, SANDBOX_NICE)
    say(f"starting the service on {urls['service']}")
    service = spawn(
        "service",
        [exe, "serve", "--host", HOST, "--port", str(ports["service"])]
        + (["--no-worker"] if separate_worker else []),
        env=env,
        cwd=run_dir,
    )
    exits.callback(service.stop)
    bare_proc: Proc | None = None
    if bare:
        say(f"starting the bare endpoint on {urls['bare']}")
        bare_proc = spawn(
            "bare",
            [sys.executable, "-m", "uvicorn", "bench.baseline:app", "--app-dir", str(REPO_ROOT),
             "--host", HOST, "--port", str(ports["bare"]), "--log-level", "warning",
             "--no-access-log"],
            env=os.environ,
            cwd=run_dir,
        )  # fmt: skip
        exits.callback(bare_proc.stop)

    await wait_ready(sandbox_proc, f"{urls['sandbox']}/_sandbox/calls", SHORT_STARTUP_DEADLINE_S)
    if bare_proc is not None:
        await wait_ready(bare_proc, f"{urls['bare']}/healthz", SHORT_STARTUP_DEADLINE_S)
    await wait_ready(service, f"{urls['service']}/healthz", STARTUP_DEADLINE_S)
    started: list[Proc] = []
    if separate_worker:  # after serve, which has applied the migrations by now
        say(f"starting {workers} worker process(es) (ORDERSYNC_WORKER_PRIORITY, default idle)")
        for n in range(workers):
            one = spawn(f"worker-{n}" if n else "worker", [exe, "worker"], env=env, cwd=run_dir)
            exits.callback(one.stop)
            started.append(one)
        for one in started:
            await wait_logged(one, "worker.started", SHORT_STARTUP_DEADLINE_S)
    worker = started[0] if started else None
    say("all three servers are up" if bare else "the sandboxes and the service are up")

    db_url = env["DATABASE_URL"] if pgdata is None else embedded_url(pgdata)
    db = await asyncpg.connect(to_libpq_url(db_url))
    exits.push_async_callback(db.close)

    sandbox = await exits.enter_async_context(
        httpx.AsyncClient(base_url=urls["sandbox"], timeout=30)
    )
    api = await exits.enter_async_context(
        httpx.AsyncClient(
            base_url=urls["service"], timeout=30, headers={"Authorization": f"Bearer {api_token}"}
        )
    )
    return Servers(
        urls, sandbox_proc, service, worker, bare_proc, pgdata, db, sandbox, api, api_token,
        started[1:],
    )  # fmt: skip


# --- the command line -------------------------------------------------------------------------


def run_main(bench: Callable[[], Coroutine[Any, Any, None]]) -> int:
    """Run ``bench()`` on uvloop; SIGTERM and Ctrl-C stop it (and its servers) cleanly.

    Exit status: 0 when it ran (whatever it measured), 1 when it could not, 130/143 when
    interrupted/terminated.
    """
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop comes with uvicorn[standard]
        loop_factory = None
    else:
        loop_factory = uvloop.new_event_loop
    with asyncio.Runner(loop_factory=loop_factory) as runner:

        async def run() -> None:
            task = asyncio.current_task()
            assert task is not None
            asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)
            await bench()

        try:
            runner.run(run())
        except KeyboardInterrupt:
            say("interrupted; servers stopped")
            return 130
        except asyncio.CancelledError:
            say("terminated; servers stopped")
            return 143
        except BenchError as exc:
            say(f"benchmark failed: {exc}")
            return 1
    return 0
