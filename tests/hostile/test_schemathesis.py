"""Schemathesis explores the whole OpenAPI document against the running service: no 500s, and
every error is problem+json. Deterministic generation keeps the run repeatable."""

from __future__ import annotations

import asyncio
import os
import shutil
import sys
from pathlib import Path

import pytest

from app.kit.server import BackgroundServer
from tests.fixtures.services import API_TOKEN

HOOKS = "tests.hostile.schemathesis_hooks"


async def _run(url: str, *extra: str) -> tuple[int, str]:
    st = shutil.which("st", path=str(Path(sys.executable).parent)) or "st"
    env = {**os.environ, "SCHEMATHESIS_HOOKS": HOOKS, "PYTHONPATH": os.getcwd()}
    process = await asyncio.create_subprocess_exec(
        st,
        "run",
        f"{url}/openapi.json",
        "--checks",
        "not_a_server_error,problem_json_errors,status_code_conformance,"
        "content_type_conformance,response_schema_conformance",
        "--generation-deterministic",
        "--max-examples",
        "25",
        "--request-timeout",
        "20",
        "--workers",
        "1",
        *extra,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await process.communicate()
    return process.returncode or 0, output.decode(errors="replace")


@pytest.mark.usefixtures("clean_db")
async def test_openapi_fuzzing_finds_no_server_errors(service_server: BackgroundServer) -> None:
    code, output = await _run(
        service_server.url,
        "-H",
        f"Authorization: Bearer {API_TOKEN}",
    )
    assert code == 0, output[-6000:]


@pytest.mark.usefixtures("clean_db")
async def test_openapi_fuzzing_without_a_key(service_server: BackgroundServer) -> None:
    code, output = await _run(service_server.url, "--exclude-checks", "status_code_conformance")
    assert code == 0, output[-6000:]
