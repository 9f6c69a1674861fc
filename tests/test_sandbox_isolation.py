"""A hostile file cannot reach the bot's secrets (issue 8, section 3).

A probe runs inside the sandbox as a decoder taken over by a file would, and must find nothing of the bot's:
no secrets in its environment, no data dir, no network, no way back into the bot. Where this machine lacks
a mechanism (the sandbox names it), the assertion that needs it is skipped; as root with Landlock, user
namespaces and seccomp every one of them runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import sqlite3
import tempfile
import time
from pathlib import Path

import pytest

from bot.privacy.clean import SanitizeError
from bot.privacy.sandbox import Sandbox
from tests import sandbox_helpers

pytestmark = pytest.mark.asyncio

AS_ROOT = os.geteuid() == 0
REFUSED = ("EACCES", "EPERM")
TOKEN = "123456789:AAH-not-a-real-token-but-long-enough"
SECRET_KEY = "not-a-real-secret-key-but-long-enough-for-the-bot"


@pytest.fixture
def data_dir():
    """A data dir as the bot makes it (0700, secret.key 0600, the SQLite database), in a directory every user
    may pass through, so that its own modes and the sandbox are what keep the probe out."""
    with tempfile.TemporaryDirectory() as parent:
        path = Path(parent) / "data"
        path.mkdir(mode=0o700)
        path.chmod(0o700)
        key = path / "secret.key"
        key.write_text(SECRET_KEY)
        key.chmod(0o600)
        with contextlib.closing(sqlite3.connect(path / "tipbot.db")) as database:
            database.execute("CREATE TABLE tips (text TEXT)")
            database.execute("INSERT INTO tips VALUES ('a report')")
            database.commit()
        yield path


@pytest.fixture
def port():
    """A port on this machine that accepts connections."""
    with socket.create_server(("127.0.0.1", 0)) as server:
        yield server.getsockname()[1]


@pytest.fixture
def secrets_in_environment(monkeypatch):
    monkeypatch.setenv("TIPBOT_TOKEN", TOKEN)
    monkeypatch.setenv("TIPBOT_SECRET_KEY", SECRET_KEY)


async def probe(data_dir: Path, port: int, **limits) -> tuple[dict, set[str]]:
    sandbox = Sandbox(**limits)
    try:
        facts = await sandbox.run(sandbox_helpers.probe, str(data_dir), port)
    finally:
        await sandbox.close()
    return facts, set(sandbox.unavailable)


def skip_without(unavailable: set[str], *names: str) -> None:
    """Skip when every one of `names` is missing on this machine."""
    if names and all(name in unavailable for name in names):
        pytest.skip(f"not available on this machine: {', '.join(names)}")


async def test_no_secret_in_the_environment(data_dir, port, secrets_in_environment):
    facts, _ = await probe(data_dir, port)
    assert not [name for name in facts["environ"] if name.startswith("TIPBOT")]
    environ = facts["proc_environ"]  # unreadable to the worker itself (not dumpable), or empty
    assert environ in REFUSED or (isinstance(environ, bytes) and b"TIPBOT" not in environ), environ
    assert facts["parent_environ"] in REFUSED
    assert facts["parent_memory"] in REFUSED


async def test_a_worker_starts_with_an_empty_environment(secrets_in_environment):
    """What the kernel holds as the worker's environment, read from outside: nothing at all."""
    if not AS_ROOT:
        pytest.skip("only root may read a worker's /proc/<pid>/environ (the worker is not dumpable)")
    sandbox = Sandbox(workers=1)  # starts its worker ahead, waiting for a file
    try:
        deadline = time.monotonic() + 10
        while not (workers := _workers()) and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        assert workers
        for pid in workers:
            assert Path(f"/proc/{pid}/environ").read_bytes() == b""
    finally:
        await sandbox.close()


def _workers() -> list[int]:
    """Sandbox workers started by this process."""
    found = []
    for entry in Path("/proc").iterdir():
        with contextlib.suppress(OSError):
            parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) if entry.name.isdigit() else 0
            if parent == os.getpid() and b"bot.privacy.jail" in (entry / "cmdline").read_bytes():
                found.append(int(entry.name))
    return found


async def test_the_data_dir_is_closed(data_dir, port):
    facts, unavailable = await probe(data_dir, port)
    skip_without(unavailable, "Landlock", *(["unprivileged user"] if AS_ROOT else []))
    for attempt in ("secret_key", "database", "list_data_dir", "write_data_dir"):
        assert facts[attempt] in REFUSED, attempt


async def test_the_data_dir_is_closed_even_when_its_modes_are_lax(data_dir, port):
    """Landlock, not file modes: a data dir any user may read stays closed all the same."""
    data_dir.chmod(0o755)
    for name in ("secret.key", "tipbot.db"):
        (data_dir / name).chmod(0o644)
    facts, unavailable = await probe(data_dir, port)
    skip_without(unavailable, "Landlock")
    assert facts["secret_key"] in REFUSED
    assert facts["database"] in REFUSED


async def test_no_network(data_dir, port):
    facts, unavailable = await probe(data_dir, port)
    skip_without(unavailable, "network namespace", "Landlock network rules", "seccomp")
    assert facts["connect"] != "ok"
    skip_without(unavailable, "network namespace", "seccomp")
    assert facts["udp"] != "ok"


async def test_runs_as_an_unprivileged_user(data_dir, port):
    facts, unavailable = await probe(data_dir, port)
    if not AS_ROOT:
        pytest.skip("the bot does not run as root: its workers keep the bot's user")
    skip_without(unavailable, "unprivileged user")
    assert facts["uid"] == 65534


async def test_limits(data_dir, port):
    facts, unavailable = await probe(data_dir, port, cpu_seconds=5, memory_limit_mb=512, file_size_mb=100)
    soft, hard = facts["cpu"]
    assert soft <= hard <= facts["cpu_used"] + 5 + 2, facts["cpu"]  # a hard ceiling, for this file only
    assert facts["fsize"] == (100 * 1024 * 1024,) * 2
    assert facts["address_space"] == (512 * 1024 * 1024,) * 2
    assert facts["core"] == (0, 0)
    skip_without(unavailable, "process limit")
    assert facts["nproc"] == (64, 64)


async def test_nothing_open_but_its_pipes(data_dir, port):
    facts, _ = await probe(data_dir, port)
    targets = sorted(facts["descriptors"].values())
    assert targets[:3] == ["/dev/null"] * 3
    assert len(targets) == 5 and all(target.startswith("pipe:") for target in targets[3:]), targets


async def test_temporary_files_stay_in_memory(data_dir, port):
    facts, unavailable = await probe(data_dir, port)
    assert facts["write_temp"] == "ok"
    skip_without(unavailable, "memory-backed temp dir")
    assert facts["temp_fs"] == "tmpfs"


async def test_a_worker_sees_no_other_worker_s_temporary_files(data_dir, port):
    facts, unavailable = await probe(data_dir, port)
    # As root, also the workers' directories belong to nobody, in a directory only root may list.
    skip_without(unavailable, "mount namespace", "Landlock", *(["unprivileged user"] if AS_ROOT else []))
    assert facts["slots"] == [os.path.basename(facts["temp_dir"])] or facts["slots"] in REFUSED


async def test_the_hard_cpu_limit_stops_a_worker_that_ignores_sigxcpu():
    sandbox = Sandbox(cpu_seconds=1, timeout=120, workers=1)
    try:
        start = time.monotonic()
        with pytest.raises(SanitizeError) as exc:
            await sandbox.run(sandbox_helpers.burn_cpu_ignoring_sigxcpu, 100)
        assert exc.value.reason == "too_large"
        assert time.monotonic() - start < 60  # about 3 s of CPU time, long before the wall clock's 120 s
    finally:
        await sandbox.close()


async def test_an_answer_cannot_run_code_in_the_bot(tmp_path):
    """A worker taken over by a file could send any pickle back: the bot builds no callable from it."""
    target = tmp_path / "made-by-the-worker's-answer"
    sandbox = Sandbox(workers=1)
    try:
        with pytest.raises(SanitizeError) as exc:
            await sandbox.run(sandbox_helpers.answer_with_code, str(target))
        assert exc.value.reason == "too_large"
        assert not target.exists()
    finally:
        await sandbox.close()


async def test_waiting_for_a_slot_has_a_limit():
    sandbox = Sandbox(workers=1, queue_timeout=0.5)
    try:
        slow = asyncio.ensure_future(sandbox.run(sandbox_helpers.sleep, 2))
        await asyncio.sleep(0.1)
        start = time.monotonic()
        with pytest.raises(SanitizeError) as exc:
            await sandbox.run(sandbox_helpers.child_pid)
        assert exc.value.reason == "busy"
        assert time.monotonic() - start < 1.5
        assert await slow == 2  # the file being cleaned is not disturbed
    finally:
        await sandbox.close()


async def test_waiting_for_a_slot_is_not_part_of_the_timeout():
    sandbox = Sandbox(workers=1, timeout=3)
    try:
        first, second = await asyncio.gather(*(sandbox.run(sandbox_helpers.sleep, 2) for _ in range(2)))
        assert first == second == 2  # the second waited about 2 s for the slot, then had its own 3 s
    finally:
        await sandbox.close()


async def test_a_worker_that_cannot_start_is_logged_and_the_file_waits(monkeypatch, caplog):
    monkeypatch.setattr("sys.executable", "/bin/false")
    sandbox = Sandbox(workers=1)
    try:
        with pytest.raises(SanitizeError) as exc:
            await sandbox.run(sandbox_helpers.child_pid)
        assert exc.value.reason == "busy"
        assert "a worker did not start" in caplog.text
    finally:
        await sandbox.close()
