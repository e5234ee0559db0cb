#!/usr/bin/env python3
"""Bootstrap and run ordersync with nothing but Python 3.11+.

    python3 dev.py serve   # API + worker + embedded Postgres (unless DATABASE_URL is set)
    python3 dev.py demo    # the same, wired to a local Lazada sandbox, with dev credentials
    python3 dev.py test    # ruff, mypy, then the whole pytest suite
    python3 dev.py bench   # the intake benchmark (bench/intake.py)

It keeps a virtualenv in .venv and reinstalls only when pyproject.toml changes.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PYTHON = BIN / ("python.exe" if os.name == "nt" else "python")
STAMP = VENV / ".ordersync-installed"
# Demo only: anyone can read this key here. Never use it for real credentials.
DEMO_KEY = "ZGVtby1vbmx5LWtleS1kby1ub3QtdXNlLWluLXByb2Q="


def step(message: str) -> None:
    print(f"==> {message}", flush=True)


def run(*args: str | Path, env: dict[str, str] | None = None) -> None:
    result = subprocess.run([str(a) for a in args], cwd=ROOT, env=env)
    if result.returncode != 0:
        sys.exit(result.returncode)


def ensure_environment() -> None:
    if sys.version_info < (3, 11):
        sys.exit("ordersync needs Python 3.11 or newer.")
    if not PYTHON.exists():
        step("Creating virtualenv in .venv")
        venv.create(VENV, with_pip=True)
    wanted = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    if not STAMP.exists() or STAMP.read_text() != wanted:
        step("Installing ordersync and its development tools (first run takes a minute)")
        run(PYTHON, "-m", "pip", "install", "--quiet", "--upgrade", "pip")
        run(PYTHON, "-m", "pip", "install", "--quiet", "-e", ".[dev]")
        STAMP.write_text(wanted)


def test(extra: list[str]) -> None:
    step("ruff check")
    run(BIN / "ruff", "check", ".")
    step("ruff format --check")
    run(BIN / "ruff", "format", "--check", ".")
    step("mypy (strict)")
    run(BIN / "mypy")
    step("pytest")
    run(PYTHON, "-m", "pytest", *extra)


def demo(extra: list[str]) -> None:
    """The service plus a Lazada sandbox, so that a newcomer can push orders right away."""
    env = {
        **os.environ,
        "LAZADA_APP_KEY": os.environ.get("LAZADA_APP_KEY", "demo-app-key"),
        "LAZADA_APP_SECRET": os.environ.get("LAZADA_APP_SECRET", "demo-app-secret"),
        "LAZADA_API_BASE": "http://127.0.0.1:9000/rest",
        "LAZADA_AUTH_BASE": "http://127.0.0.1:9000/rest",
        "SHOPLAZZA_API_BASE": "http://127.0.0.1:9001",
        "NEWEGG_API_BASE": "http://127.0.0.1:9002",
        "ORDERSYNC_API_TOKENS": os.environ.get("ORDERSYNC_API_TOKENS", "demo-token-change-me"),
        # A fixed demo key, so that accounts stored by one demo run can be read by the next.
        "ORDERSYNC_ENCRYPTION_KEYS": os.environ.get("ORDERSYNC_ENCRYPTION_KEYS", DEMO_KEY),
    }
    step("Starting the sandboxes: Lazada :9000, Shoplazza :9001, Newegg :9002")
    sandbox = subprocess.Popen(
        [
            str(BIN / "ordersync"),
            "sandbox",
            "--port",
            "9000",
            "--webhook-url",
            "http://127.0.0.1:8000/webhooks/lazada",
        ],
        cwd=ROOT,
        env=env,
    )
    try:
        step(f"API token for /v1: {env['ORDERSYNC_API_TOKENS'].split(',')[0]}")
        run(BIN / "ordersync", "serve", *extra, env=env)
    finally:
        sandbox.terminate()
        sandbox.wait(timeout=10)


def main() -> None:
    command, extra = (sys.argv[1], sys.argv[2:]) if len(sys.argv) > 1 else ("help", [])
    if command not in {"serve", "demo", "test", "bench"}:
        print(__doc__)
        sys.exit(0 if command in {"help", "-h", "--help"} else 2)
    ensure_environment()
    if command == "test":
        test(extra)
    elif command == "serve":
        run(BIN / "ordersync", "serve", *extra)
    elif command == "demo":
        demo(extra)
    else:
        run(PYTHON, "-m", "bench.intake", *extra)


if __name__ == "__main__":
    main()
