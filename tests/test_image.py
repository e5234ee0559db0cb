"""The container image, read from its files and run the way it runs (no Docker engine here).

The image runs as a user of its own in a working directory that belongs to root: the API used
to die at start-up creating ``.ordersync/spool`` there. These tests run docker-compose.yml's API
command line the same way (a non-root user, a read-only working directory, the data directory
the Dockerfile declares), and check that the files keep declaring what that run relies on.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
import tomllib
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.fixtures.processes import (
    ORDERSYNC,
    ROOT,
    clean_environment,
    free_port,
    nobody,
    spawn,
    wait_until_answering,
)
from tests.fixtures.services import APP_KEY, APP_SECRET
from tests.helpers import signed_headers, trade_push

KEY = "2ex8S47ZShiSbrCMsuJ0jwdm8bnUm4PKc2w7fyz96N4="
DOCKERFILE = (ROOT / "Dockerfile").read_text()
COMPOSE = (ROOT / "docker-compose.yml").read_text()


def _dockerfile(instruction: str) -> list[str]:
    return re.findall(rf"^{instruction}\s+(.+)$", DOCKERFILE, flags=re.MULTILINE)


def _api_command() -> list[str]:
    """docker-compose.yml's command for the api service."""
    service = COMPOSE.split("\n  api:\n", 1)[1].split("\n  worker:\n", 1)[0]
    line = next(line for line in service.splitlines() if line.strip().startswith("command:"))
    command: list[str] = json.loads(line.split("command:", 1)[1])
    return command


def _with_port(command: list[str], port: int) -> list[str]:
    args = command[1:]  # "ordersync"
    values = {"--host": "127.0.0.1", "--port": str(port)}
    return [values.get(args[i - 1], arg) if i else arg for i, arg in enumerate(args)]


def _read_only_workdir(tmp_path: Path) -> Path:
    """Like the image's /srv: the service may read it, never write it."""
    workdir = tmp_path / "srv"
    workdir.mkdir()
    workdir.chmod(0o555)
    return workdir


def _data_dir(tmp_path: Path, user: tuple[int, int] | None) -> Path:
    """Like the Dockerfile's `install -d -o ordersync -m 0750 /var/lib/ordersync`."""
    data = tmp_path / "var-lib-ordersync"
    data.mkdir(mode=0o750)
    if user is not None:
        os.chown(data, *user)
    return data


def _environment(**values: str) -> dict[str, str]:
    # No database answers: the API must start all the same and keep the pushes in its spool.
    return clean_environment(
        DATABASE_URL="postgresql://ordersync:pw@127.0.0.1:1/ordersync",
        LAZADA_APP_KEY=APP_KEY,
        LAZADA_APP_SECRET=APP_SECRET,
        ORDERSYNC_ENCRYPTION_KEYS=KEY,
        ORDERSYNC_API_TOKENS="image-token-0123456789",
        PYTHONPATH=str(ROOT),
        PYTHONDONTWRITEBYTECODE="1",
        **values,
    )


@pytest.fixture
def machine() -> Iterator[Path]:
    """A directory any user may traverse (pytest's own are root's alone), as / is in the image."""
    with tempfile.TemporaryDirectory(prefix="ordersync-image-") as tmp:
        os.chmod(tmp, 0o755)
        yield Path(tmp)


class TestTheFiles:
    def test_the_image_declares_a_data_directory_owned_by_its_user(self) -> None:
        (user,) = _dockerfile("USER")
        envs = " ".join(_dockerfile("ENV"))
        data_dir = re.search(r"ORDERSYNC_DATA_DIR=(\S+)", envs)
        assert data_dir is not None, "the image must say where its local state goes"
        path = data_dir.group(1)
        assert not path.startswith(_dockerfile("WORKDIR")[0])
        assert any(f"-o {user}" in run and path in run for run in _dockerfile("RUN"))
        assert _dockerfile("VOLUME") == [path]
        # ... and compose keeps it on a named volume, for the api that spools.
        assert re.search(rf"^\s+- (\w[\w-]*):{re.escape(path)}$", COMPOSE, flags=re.MULTILINE)
        assert f"ORDERSYNC_DATA_DIR: {path}" in COMPOSE

    def test_compose_passes_all_of_env_and_hard_codes_no_password(self) -> None:
        assert "env_file: .env" in COMPOSE
        assert "POSTGRES_PASSWORD: ${POSTGRES_PASSWORD:?" in COMPOSE
        assert "postgresql://ordersync:${POSTGRES_PASSWORD:?" in COMPOSE
        assert "POSTGRES_PASSWORD=" in (ROOT / ".env.example").read_text()

    def test_the_build_context_leaves_local_state_and_secrets_out(self) -> None:
        ignored = (ROOT / ".dockerignore").read_text().split()
        for entry in (".venv", ".ordersync", ".env", ".git"):
            assert entry in ignored

    def test_the_embedded_postgres_is_an_extra_the_image_does_not_install(self) -> None:
        project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
        assert not any(dep.startswith("pgserver") for dep in project["dependencies"])
        assert any(
            dep.startswith("pgserver") for dep in project["optional-dependencies"]["embedded"]
        )
        (install,) = [run for run in _dockerfile("RUN") if "pip install" in run]
        assert "[" not in install, "the image installs no extras"


class TestTheApiCommandLine:
    async def test_it_starts_as_a_non_root_user_and_spools_in_the_data_directory(
        self, machine: Path
    ) -> None:
        user = nobody()
        data = _data_dir(machine, user)
        port = free_port()
        with spawn(
            [*ORDERSYNC, *_with_port(_api_command(), port)],
            env=_environment(ORDERSYNC_DATA_DIR=str(data)),
            cwd=_read_only_workdir(machine),
            log=machine / "api.log",
            user=user,
        ) as api:
            url = f"http://127.0.0.1:{port}"
            assert (await wait_until_answering(api, f"{url}/healthz")).status_code == 200
            body = trade_push()
            async with httpx.AsyncClient(base_url=url, timeout=10) as client:
                ready = (await client.get("/readyz")).json()
                assert ready["database"] == "down"
                pushed = await client.post(
                    "/webhooks/lazada", content=body, headers=signed_headers(body)
                )
            assert pushed.status_code == 200, api.output()
            assert pushed.json()["status"] == "spooled"
            spooled = list((data / "spool").glob("*.rec"))
            assert len(spooled) == 1
            assert json.loads(spooled[0].read_bytes())["body"] == body.decode()
            if user is not None:
                assert spooled[0].stat().st_uid == user[0]
            assert await api.stop() == 0, api.output()
        assert "Traceback" not in api.output()

    async def test_without_a_writable_data_directory_it_says_so_in_one_line(
        self, machine: Path
    ) -> None:
        port = free_port()
        with spawn(
            [*ORDERSYNC, *_with_port(_api_command(), port)],
            env=_environment(),
            cwd=_read_only_workdir(machine),
            log=machine / "api.log",
            user=nobody(),
        ) as api:
            assert await api.exit_code() == 2
        output = api.output()
        assert "ORDERSYNC_DATA_DIR: cannot write the webhook's spool" in output
        assert "Traceback" not in output

    async def test_a_taken_port_is_one_line_and_ctrl_c_is_quiet(self, tmp_path: Path) -> None:
        port = free_port()
        with spawn(
            [*ORDERSYNC, *_with_port(_api_command(), port)],
            env=_environment(ORDERSYNC_DATA_DIR=str(tmp_path / "first")),
            cwd=tmp_path,
            log=tmp_path / "first.log",
            session=True,
        ) as first:
            await wait_until_answering(first, f"http://127.0.0.1:{port}/healthz")
            with spawn(
                [*ORDERSYNC, *_with_port(_api_command(), port)],
                env=_environment(ORDERSYNC_DATA_DIR=str(tmp_path / "second")),
                cwd=tmp_path,
                log=tmp_path / "second.log",
            ) as second:
                assert await second.exit_code() == 2
            assert await first.interrupt() == 0  # Ctrl-C
        assert "Traceback" not in first.output()
        output = second.output()
        assert f"Cannot listen on 127.0.0.1:{port} (Address already in use)" in output
        assert "ordersync on http" not in output
        assert "Traceback" not in output
