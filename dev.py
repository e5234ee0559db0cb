#!/usr/bin/env python3
"""Bootstrap and run ordersync with nothing but Python 3.11+.

    python3 dev.py serve       # API + worker + embedded Postgres (unless DATABASE_URL is set)
    python3 dev.py demo        # the service wired to the bundled sandboxes, sellers connected
    python3 dev.py test        # ruff, mypy, then the whole pytest suite
    python3 dev.py bench       # the intake benchmark (bench/intake.py)
    python3 dev.py COMMAND ... # any other `ordersync` command: migrate, api-keys create, ...

It keeps a virtualenv in .venv (with the embedded Postgres and the development tools) and
reinstalls only when pyproject.toml changes. `.venv/bin/ordersync` is the same command.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path
from typing import NoReturn

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PYTHON = BIN / ("python.exe" if os.name == "nt" else "python")
ORDERSYNC = BIN / ("ordersync.exe" if os.name == "nt" else "ordersync")
STAMP = VENV / ".ordersync-installed"
EXTRAS = "embedded,dev"


def step(message: str) -> None:
    print(f"==> {message}", flush=True)


def run(*args: str | Path) -> None:
    result = subprocess.run([str(a) for a in args], cwd=ROOT)
    if result.returncode != 0:
        sys.exit(result.returncode)


def become(*args: str | Path) -> NoReturn:
    """Replace this process with the command, so that it is the one that gets the signals
    (a `kill` of dev.py, Ctrl-C) and its exit status is ours: nothing is left behind."""
    argv = [str(a) for a in args]
    sys.stdout.flush()
    if os.name == "nt":  # no exec there: wait for the child instead
        sys.exit(subprocess.run(argv, cwd=ROOT).returncode)
    os.chdir(ROOT)
    os.execv(argv[0], argv)


def installed_spec() -> str:
    """What the installation depends on: the project's metadata and the extras, not the tools'
    settings further down pyproject.toml (editing ruff's rules reinstalls nothing)."""
    import tomllib  # after the version check: Python 3.11+

    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    spec = {key: pyproject.get(key) for key in ("build-system", "project")}
    return hashlib.sha256(json.dumps([spec, EXTRAS], sort_keys=True).encode()).hexdigest()


def ensure_environment() -> None:
    if sys.version_info < (3, 11):
        sys.exit("ordersync needs Python 3.11 or newer.")
    if not PYTHON.exists():
        step("Creating virtualenv in .venv")
        venv.create(VENV, with_pip=True)
    wanted = installed_spec()
    if not STAMP.exists() or STAMP.read_text() != wanted:
        step("Installing ordersync and its development tools (first run takes a minute)")
        run(PYTHON, "-m", "pip", "install", "-qq", "--upgrade", "pip")
        run(PYTHON, "-m", "pip", "install", "-qq", "-e", f".[{EXTRAS}]")
        STAMP.write_text(wanted)


def ensure_browser() -> None:
    """The browser tests drive a Chromium through Playwright: the system's (Debian/Ubuntu:
    `apt-get install chromium`, which .ci/run does), or else Playwright's own, fetched once."""
    if shutil.which("chromium") or shutil.which("chromium-browser"):
        return
    step("No chromium on PATH: fetching Playwright's own (python -m playwright install chromium)")
    result = subprocess.run([str(PYTHON), "-m", "playwright", "install", "chromium"], cwd=ROOT)
    if result.returncode != 0:
        sys.exit(
            "No browser for the browser tests: install chromium (Debian/Ubuntu: "
            "apt-get install chromium) and run again."
        )


def test(extra: list[str]) -> NoReturn:
    ensure_browser()
    step("ruff check")
    run(BIN / "ruff", "check", ".")
    step("ruff format --check")
    run(BIN / "ruff", "format", "--check", ".")
    step("mypy (strict)")
    run(BIN / "mypy")
    step("pytest")
    become(PYTHON, "-m", "pytest", *extra)


def main() -> None:
    command, extra = (sys.argv[1], sys.argv[2:]) if len(sys.argv) > 1 else ("help", [])
    if command in {"help", "-h", "--help"}:
        print(__doc__)
        if PYTHON.exists():
            run(ORDERSYNC, "--help")
        sys.exit(0)
    ensure_environment()
    if command == "test":
        test(extra)
    elif command == "bench":
        become(PYTHON, "-m", "bench.intake", *extra)
    else:
        become(ORDERSYNC, command, *extra)


if __name__ == "__main__":
    main()
