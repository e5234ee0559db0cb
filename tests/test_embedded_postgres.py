"""The embedded Postgres as commands meet it: quiet when it works, stopped by the last process
that holds it, even after another holder was killed without a chance to clean up."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from tests.fixtures.processes import ORDERSYNC, clean_environment, spawn
from tests.fixtures.services import wait_for

HOLD = (
    "import pathlib, signal, sys\n"
    "from app.db import start_embedded_postgres\n"
    "start_embedded_postgres(pathlib.Path(sys.argv[1]))\n"
    "print('holding', flush=True)\n"
    "signal.pause()\n"  # until killed
)


@pytest.fixture
def tmp_path() -> Iterator[Path]:
    """Outside pytest's own temporary root: under root the embedded Postgres runs as another
    user, for whom pgserver opens the path's directories, and a concurrent pytest session
    closes pytest's root again (0700) under its feet."""
    with tempfile.TemporaryDirectory(prefix="ordersync-embedded-") as tmp:
        os.chmod(tmp, 0o755)
        yield Path(tmp)


def _holders(data: Path) -> list[int]:
    listed: list[int] = json.loads((data / "pgdata" / ".handle_pids.json").read_text())
    return listed


def running(pid: int) -> bool:
    """Alive, not just a zombie waiting for its new parent (PID 1 here may never reap it)."""
    try:
        return bool(psutil.Process(pid).status() != psutil.STATUS_ZOMBIE)
    except psutil.NoSuchProcess:
        return False


def postmaster(data: Path) -> int | None:
    """The running postmaster's pid, None when it is not running."""
    pid_file = data / "pgdata" / "postmaster.pid"
    if not pid_file.exists():
        return None
    pid = int(pid_file.read_text().split()[0])
    return pid if running(pid) else None


def _migrate(data: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*ORDERSYNC, "migrate"],
        env=clean_environment(ORDERSYNC_DATA_DIR=str(data)),
        cwd=data.parent,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_a_start_and_a_stop_say_one_line_each(tmp_path: Path) -> None:
    result = _migrate(tmp_path / "data")
    assert result.returncode == 0, result.stderr
    output = result.stdout + result.stderr
    for noise in ("initdb", "pg_ctl", "Running commandline", "Success. You can now start"):
        assert noise not in output
    assert output.count("db.embedded.ready") == 1
    assert "initialised=True" in output
    assert output.count("db.embedded.stopped") == 1
    assert len(output.splitlines()) < 15, output
    assert postmaster(tmp_path / "data") is None


def test_a_failed_start_shows_what_postgres_said(tmp_path: Path) -> None:
    pgdata = tmp_path / "data" / "pgdata"
    pgdata.mkdir(parents=True)
    (pgdata / "PG_VERSION").write_text("9\n")  # a data directory this Postgres cannot run
    result = _migrate(tmp_path / "data")
    assert result.returncode == 2
    assert f"The embedded Postgres in {pgdata} did not start" in result.stderr
    assert "Traceback" not in result.stderr
    assert "pgserver" in result.stderr  # its own account of the failure, only now


async def test_a_killed_holder_does_not_keep_postgres_running_for_ever(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with spawn(
        [sys.executable, "-c", HOLD, str(data)],
        env=clean_environment(),
        cwd=tmp_path,
        log=tmp_path / "holder.log",
    ) as holder:

        async def holding() -> bool:
            assert holder.popen.poll() is None, holder.output()
            return "holding" in holder.output()

        await wait_for(holding, within=60, what="the holder to start Postgres")
        assert await holder.stop(signal.SIGKILL) == -signal.SIGKILL
    server = postmaster(data)
    assert server is not None
    assert _holders(data) == [holder.pid], "the killed process is still listed"

    result = _migrate(data)  # starts, joins and, as the last live holder, stops Postgres

    assert result.returncode == 0, result.stderr
    assert f"db.embedded.dead_holders_dropped pids=[{holder.pid}]" in result.stderr
    assert "db.embedded.stopped" in result.stderr
    assert _holders(data) == []
    assert not running(server)
