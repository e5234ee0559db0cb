"""The spool's promises: what it acknowledged survives the process and is drained at the next
start, oldest first; damage is set aside instead of blocking the rest; and when it cannot be
written, the push is refused (503, which Lazada delivers again), never acknowledged."""

from __future__ import annotations

import asyncio
import json
import resource
import sys
from pathlib import Path

import httpx
import orjson
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from app.integrations.lazada.intake import Intake
from app.kit.server import BackgroundServer
from app.kit.spool import Spool, SpoolFile, read_records
from app.main import create_app
from tests.fixtures.processes import ROOT, clean_environment, free_port
from tests.fixtures.services import APP_KEY, APP_SECRET, make_settings, wait_for
from tests.helpers import signed_headers, trade_push

# Nothing listens on port 1: every statement fails at once, as with a stopped database.
NO_DATABASE = "postgresql+asyncpg://postgres@127.0.0.1:1/ordersync"


def _record(body: bytes) -> bytes:
    return orjson.dumps({"source": "lazada", "body": body.decode()})


def _files(directory: Path, pattern: str) -> list[Path]:
    return sorted(directory.glob(pattern))


def _write(path: Path, data: bytes) -> None:
    path.write_bytes(data)


def _mkdir(path: Path) -> None:
    path.mkdir()


def _lines_in(files: list[SpoolFile]) -> list[str]:
    """The order lines of the pushes the spool files hold, in their order."""
    lines = []
    for file in files:
        for record in read_records(file) or []:
            push = json.loads(orjson.loads(record)["body"])
            lines.append(str(push["data"]["trade_order_line_id"]))
    return lines


def _replace_with_a_file(directory: Path) -> None:
    for path in directory.iterdir():
        path.unlink()
    directory.rmdir()
    directory.write_text("not a directory any more")


class TestTheSpoolOnDisk:
    async def test_a_new_process_finds_what_the_last_one_kept_oldest_first(
        self, tmp_path: Path
    ) -> None:
        first = Spool(tmp_path)
        for n in range(3):
            await first.append(_record(trade_push(line_id=str(n))))
        await asyncio.gather(*(first.append(_record(trade_push(line_id=str(n)))) for n in (3, 4)))
        (tmp_path / "half-written.tmp").write_bytes(b"{")  # a write the crash cut short
        assert first.oldest_age() >= 0

        second = Spool(tmp_path)  # the next start
        assert second.depth() == 5
        assert _files(tmp_path, "*.tmp") == []
        assert _lines_in(second.oldest(10)) == ["0", "1", "2", "3", "4"]

    async def test_pushes_arriving_together_share_one_fsync(self, tmp_path: Path) -> None:
        """Group commit: while one file is written, the records arriving meanwhile wait for the
        next one, together, in arrival order."""
        spool = Spool(tmp_path)
        await asyncio.gather(
            *(spool.append(_record(trade_push(line_id=str(n)))) for n in range(300))
        )
        files = spool.oldest(1000)
        assert spool.depth() == 300
        assert sum(file.records for file in files) == 300
        assert len(files) <= 3, "one file (one fsync) per batch, not per record"
        assert _lines_in(files) == [str(n) for n in range(300)]
        assert [file.records for file in spool.oldest(1)] == [files[0].records]

    async def test_a_failed_write_leaves_nothing_behind(self, tmp_path: Path) -> None:
        spool = Spool(tmp_path / "spool")
        _replace_with_a_file(tmp_path / "spool")
        with pytest.raises(NotADirectoryError):
            await spool.append(_record(trade_push()))
        assert spool.depth() == 0


@pytest.fixture
def no_database_app(tmp_path: Path) -> tuple[BackgroundServer, Path]:
    spool_dir = tmp_path / "spool"
    settings = make_settings("http://127.0.0.1:9", spool_dir=str(spool_dir))
    return BackgroundServer(create_app(settings, NO_DATABASE)), spool_dir


class TestRefusingWhatCannotBeKept:
    async def test_an_unwritable_spool_with_the_database_down_answers_503(
        self, no_database_app: tuple[BackgroundServer, Path]
    ) -> None:
        server, spool_dir = no_database_app
        await server.start()
        try:
            async with httpx.AsyncClient(base_url=server.url, timeout=10) as client:
                first = trade_push(line_id="1")
                answer = await client.post(
                    "/webhooks/lazada", content=first, headers=signed_headers(first)
                )
                assert (answer.status_code, answer.json()["status"]) == (200, "spooled")

                # The directory goes away (a remount read-only, a volume gone bad).
                _replace_with_a_file(spool_dir)
                second = trade_push(line_id="2")
                refused = await client.post(
                    "/webhooks/lazada", content=second, headers=signed_headers(second)
                )
                assert refused.status_code == 503
                assert refused.headers["content-type"].startswith("application/problem+json")
                assert refused.headers["retry-after"] == "5"
                assert refused.json()["code"] == "spool_unavailable"
                metrics = (await client.get("/metrics")).text
                assert 'ordersync_spool_write_failures_total{reason="ENOTDIR"} 1.0' in metrics
                assert 'ordersync_pushes_total{marketplace="lazada",outcome="rejected_' in metrics
        finally:
            await server.stop()


def _limit_file_size() -> None:
    # A disk with no room left for a spool record (a few hundred bytes): writes past this many
    # bytes fail with EFBIG, as they would with ENOSPC on a full disk. Python ignores SIGXFSZ.
    resource.setrlimit(resource.RLIMIT_FSIZE, (64, 64))


async def test_a_full_disk_with_the_database_down_answers_503_in_the_real_process(
    tmp_path: Path,
) -> None:
    port = free_port()
    env = clean_environment(
        DATABASE_URL=NO_DATABASE.replace("+asyncpg", ""),
        LAZADA_APP_KEY=APP_KEY,
        LAZADA_APP_SECRET=APP_SECRET,
        ORDERSYNC_ENCRYPTION_KEYS="2ex8S47ZShiSbrCMsuJ0jwdm8bnUm4PKc2w7fyz96N4=",
        ORDERSYNC_API_TOKENS="spool-test-token-0123456789",
        ORDERSYNC_DATA_DIR=str(tmp_path / "data"),
        PYTHONPATH=str(ROOT),
        PYTHONDONTWRITEBYTECODE="1",
    )
    argv = [sys.executable, "-c", "from app.cli import main; main()"]
    argv += ["serve", "--no-worker", "--no-migrate", "--port", str(port)]
    # Output to a pipe: the file-size limit would cut a log file short too.
    process = await asyncio.create_subprocess_exec(
        *argv,
        env=env,
        cwd=tmp_path,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        preexec_fn=_limit_file_size,
    )
    assert process.stdout is not None
    reading = asyncio.create_task(process.stdout.read())
    url = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient(base_url=url, timeout=10) as client:

            async def up() -> bool:
                if process.returncode is not None:
                    raise AssertionError((await reading).decode(errors="replace"))
                try:
                    return (await client.get("/healthz")).status_code == 200
                except httpx.TransportError:
                    return False

            await wait_for(up, within=60, what="the service to answer")
            body = trade_push()
            refused = await client.post(
                "/webhooks/lazada", content=body, headers=signed_headers(body)
            )
            assert refused.status_code == 503, refused.text
            assert refused.json()["code"] == "spool_unavailable"
            metrics = (await client.get("/metrics")).text
            assert 'ordersync_spool_write_failures_total{reason="EFBIG"} 1.0' in metrics
    finally:
        if process.returncode is None:
            process.terminate()
        await asyncio.wait_for(process.wait(), 30)
    output = [await reading]
    log = b"".join(output).decode(errors="replace")
    assert "intake.spool.write_failed" in log
    assert "reason=EFBIG" in log
    assert _files(tmp_path / "data" / "spool", "*") == []  # no half record left


class TestDrainingAtTheNextStart:
    async def test_records_drain_oldest_first_and_damage_is_set_aside(
        self,
        tmp_path: Path,
        engine: AsyncEngine,
        sessionmaker: async_sessionmaker[AsyncSession],
    ) -> None:
        spool = Spool(tmp_path)
        bodies = [trade_push(order_id=f"9{n}", line_id=f"90{n}") for n in range(6)]
        for body in bodies[:3]:
            await spool.append(_record(body))
        # Damage on disk among the good records: a file that cannot be read at all, and a file
        # with a good record and a bad one.
        stamp = f"{int(spool.oldest(3)[-1].path.name[:20]) + 1:020d}"  # just after the 3rd
        unreadable = tmp_path / f"{stamp}-1-99999998.rec"
        _mkdir(unreadable)
        half_bad = tmp_path / f"{stamp}-1-99999999.rec"
        _write(half_bad, _record(bodies[3]) + b"\n\x00garbage\n")
        for body in bodies[4:]:
            await spool.append(_record(body))

        # The next process, with the database back.
        intake = Intake(engine, Spool(tmp_path), db_timeout=0.3)
        assert intake.spool.depth() == 8  # two records in the half-bad file, one for the other
        drained = []
        while intake.spool.depth():
            drained.append(await intake.drain_once(batch=2))
        assert sum(drained) == 8
        assert _files(tmp_path / "rejected", "*") == [
            tmp_path / "rejected" / unreadable.name,
            tmp_path / "rejected" / f"{half_bad.stem}-1.rec",
        ]
        async with sessionmaker() as session:
            rows = (
                await session.execute(
                    text("SELECT external_line_id FROM external_events ORDER BY id")
                )
            ).all()
        # Batch by batch in arrival order (within a batch, rows go in by their dedupe key).
        assert [row[0] for row in rows] == [f"90{n}" for n in range(6)]
        assert _files(tmp_path, "*") == [tmp_path / "rejected"]
