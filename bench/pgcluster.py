"""A Postgres of the run's own, on a TCP port, that the test may crash, stop and start.

Built with the server binaries that ship in pgserver's wheel (so a fresh machine with only
Python has them), or a system Postgres's when pgserver is not installed. Postgres refuses to run
as root, so under root the cluster belongs to an unprivileged system user.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

StopMode = Literal["immediate", "fast", "smart"]

DATABASE = "ordersync"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def server_binaries() -> Path:
    """pgserver's bundled binaries, else a system Postgres's."""
    bundled = _pgserver_binaries()
    if bundled is not None:
        return bundled
    pg_config = shutil.which("pg_config")
    if pg_config:
        bindir = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True).stdout
        if (Path(bindir.strip()) / "pg_ctl").exists():
            return Path(bindir.strip())
    for candidate in sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True):
        if (candidate / "pg_ctl").exists():
            return candidate
    raise RuntimeError("no Postgres server binaries: install the dev extras (pgserver)")


def _pgserver_binaries() -> Path | None:
    try:
        import pgserver._commands as commands
    except ImportError:
        return None
    path = Path(commands.POSTGRES_BIN_PATH)
    return path if (path / "pg_ctl").exists() else None


def _run_as() -> str | None:
    """The user the cluster runs as: ourselves, unless we are root."""
    if os.geteuid() != 0:
        return None
    for name in ("pgserver", "postgres", "nobody"):
        try:
            pwd.getpwnam(name)
        except KeyError:
            continue
        return name
    raise RuntimeError("running as root and no unprivileged user to run Postgres as")


@dataclass
class PgCluster:
    """``start()``, ``stop(mode)``, ``crash()``; ``url`` stays the same across restarts."""

    root: Path
    port: int = field(default_factory=free_port)
    bin: Path = field(default_factory=server_binaries)
    user: str | None = field(default_factory=_run_as)

    @classmethod
    def create(cls) -> PgCluster:
        root = Path(tempfile.mkdtemp(prefix="ordersync-pg-"))
        cluster = cls(root)
        cluster._initdb()
        cluster.start()
        cluster._psql(f"CREATE DATABASE {DATABASE}")
        return cluster

    @property
    def pgdata(self) -> Path:
        return self.root / "data"

    @property
    def log(self) -> Path:
        return self.root / "postgres.log"

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{DATABASE}"

    def _cmd(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(self.bin / args[0]), *args[1:]],
            user=self.user,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=True,
            cwd=self.root,
        )

    def _initdb(self) -> None:
        self.pgdata.mkdir()
        if self.user is not None:
            entry = pwd.getpwnam(self.user)
            os.chmod(self.root, 0o755)
            for path in (self.pgdata, self.root):
                os.chown(path, entry.pw_uid, entry.pw_gid)
        self._cmd(
            "initdb", "-D", str(self.pgdata), "-U", "postgres", "--auth=trust", "-E", "UTF8",
            "--no-sync",
        )  # fmt: skip
        with (self.pgdata / "postgresql.conf").open("a") as conf:
            conf.write(
                f"listen_addresses = '127.0.0.1'\nport = {self.port}\n"
                f"unix_socket_directories = ''\nmax_connections = 200\nfsync = on\n"
            )

    def start(self) -> None:
        self._cmd("pg_ctl", "-D", str(self.pgdata), "-l", str(self.log), "-w", "-t", "60", "start")

    def stop(self, mode: StopMode = "fast") -> None:
        """``immediate`` is a crash as clients see it (no goodbye, recovery at the next start);
        ``fast`` is a clean shutdown that disconnects every client."""
        self._cmd("pg_ctl", "-D", str(self.pgdata), "-m", mode, "-w", "-t", "60", "stop")

    def running(self) -> bool:
        result = subprocess.run(
            [str(self.bin / "pg_ctl"), "-D", str(self.pgdata), "status"],
            user=self.user,
            capture_output=True,
            cwd=self.root,
        )
        return result.returncode == 0

    def wait_accepting(self, within: float = 60) -> None:
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            if self._isready():
                return
            time.sleep(0.1)
        raise TimeoutError(f"Postgres on port {self.port} not accepting after {within}s")

    def _isready(self) -> bool:
        result = subprocess.run(
            [str(self.bin / "pg_isready"), "-h", "127.0.0.1", "-p", str(self.port), "-t", "2"],
            capture_output=True,
        )
        return result.returncode == 0

    def _psql(self, sql: str) -> str:
        return self._cmd(
            "psql", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "-d", "postgres",
            "-v", "ON_ERROR_STOP=1", "-Atc", sql,
        ).stdout  # fmt: skip

    def destroy(self) -> None:
        if self.running():
            with contextlib.suppress(subprocess.SubprocessError):
                self.stop("immediate")
        shutil.rmtree(self.root, ignore_errors=True)
