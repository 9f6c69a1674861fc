"""Run sanitizers in confined child processes, one fresh worker per file.

A hostile file (decompression bomb, decoder bug) must not crash, exhaust or block the bot's asyncio loop
(DESIGN.md, threat 4), nor reach its secrets (issue 8, section 3). Each file is cleaned by a new worker
(jail.py) started with an empty environment, no descriptor of the bot's but its pipes, and then confined
(another user, namespaces, rlimits, Landlock, seccomp), so one reporter's file never meets another's.
`workers` slots each keep the next worker started ahead; killing one (timeout, out of memory or CPU, a
crash) never touches a file being cleaned beside it: the caller sees SanitizeError("too_large"). When no
slot frees up within `queue_timeout`, SanitizeError("busy").

The answer is unpickled with an allowlist: a worker that a file took over must not run code in the bot.
And the bot makes itself non-dumpable: where a worker keeps the bot's own user (not root, and neither user
namespaces nor Landlock), it still cannot read the bot's /proc/<pid>/environ or memory (nor does a core
dump of the bot ever hold its secrets).
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import io
import logging
import os
import pickle
import shutil
import signal
import sys
import tempfile
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .clean import CleanFile, SanitizeError
from .jail import HEADER, NOBODY, Config, frame

log = logging.getLogger(__name__)

_BOOTSTRAP = "import sys; sys.path[:] = sys.argv[1:]; from bot.privacy.jail import main; main()"
_MAX_ANSWER_BYTES = 256 * 1024 * 1024
_REAP_SECONDS = 5.0
_START_SECONDS = 60.0
_PR_SET_DUMPABLE = 4
_reported = False  # the missing protections are logged once per process


class _Answer(pickle.Unpickler):
    """Builds only CleanFile and exception classes already loaded here (an ordinary unpickler calls whatever
    the pickle names, such as os.system)."""

    def find_class(self, module: str, name: str) -> Any:
        found = getattr(sys.modules.get(module), name, None)
        if found is CleanFile or (isinstance(found, type) and issubclass(found, Exception)):
            return found
        raise pickle.UnpicklingError(f"a sandbox worker may not send {module}.{name}")


class _Broken(Exception):
    """The worker died, sent something unreadable or too big: the file is refused as too large."""


class _Worker:
    """One confined child process: started ahead, handed one task, then gone."""

    def __init__(self, process: asyncio.subprocess.Process):
        self.process = process

    def send(self, message: object) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(frame(message))

    async def receive(self) -> Any:
        assert self.process.stdout is not None
        try:
            (size,) = HEADER.unpack(await self.process.stdout.readexactly(HEADER.size))
            if size > _MAX_ANSWER_BYTES:
                raise _Broken
            data = await self.process.stdout.readexactly(size)
        except (asyncio.IncompleteReadError, ConnectionError) as exc:
            raise _Broken from exc
        try:
            return _Answer(io.BytesIO(data)).load()
        except Exception as exc:  # whatever a malformed pickle raises
            raise _Broken from exc

    async def call(self, func: Callable[..., Any], args: tuple[Any, ...]) -> Any:
        assert self.process.stdin is not None
        try:
            self.send((func, args))
            await self.process.stdin.drain()
        except ConnectionError as exc:
            raise _Broken from exc
        answer = await self.receive()
        if not (isinstance(answer, tuple) and len(answer) == 2 and answer[0] in ("ok", "error")):
            raise _Broken
        kind, value = answer
        if kind == "ok":
            return value
        if isinstance(value, MemoryError) or not isinstance(value, Exception):
            raise _Broken
        raise value

    def kill(self) -> None:
        """Kill the worker and what it started (its process group: ffmpeg)."""
        if self.process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)

    async def reap(self) -> None:
        self.kill()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.process.wait(), _REAP_SECONDS)


@dataclass
class _Slot:
    """One place for a file: its private temporary directory and `pool`, the task that starts its next worker."""

    temp_dir: str
    pool: asyncio.Task[_Worker] | None = None


class Sandbox:
    """`workers` slots, each running one confined worker at a time (see the module docstring).

    Limits of each worker: `memory_limit_mb` of address space, `cpu_seconds` of CPU time and `timeout`
    seconds of wall-clock time per file, `file_size_mb` for any one file it writes, `temp_size_mb` for its
    temporary directory (where it gets a tmpfs of its own), `processes` (threads count, ffmpeg uses ~20).
    """

    def __init__(
        self,
        memory_limit_mb: int = 1024,
        cpu_seconds: int = 20,
        timeout: float = 30.0,
        workers: int = 2,
        queue_timeout: float = 60.0,
        file_size_mb: int = 128,
        temp_size_mb: int = 256,
        processes: int = 64,
    ):
        ctypes.CDLL(None).prctl(_PR_SET_DUMPABLE, ctypes.c_ulong(0), *(ctypes.c_ulong(0),) * 3)
        self._timeout = timeout
        self._queue_timeout = queue_timeout
        self._limits = dict(
            memory_bytes=memory_limit_mb * 1024 * 1024,
            cpu_seconds=cpu_seconds,
            file_bytes=file_size_mb * 1024 * 1024,
            temp_bytes=temp_size_mb * 1024 * 1024,
            processes=processes,
            workers=workers,
        )
        self._in_memory = os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK | os.X_OK)
        self._root = tempfile.mkdtemp(prefix="tipbot-sandbox-", dir="/dev/shm" if self._in_memory else None)
        self._remove_root = weakref.finalize(self, shutil.rmtree, self._root, ignore_errors=True)  # or at exit
        self._slots = [_Slot(self._make_slot_dir(tempfile.mkdtemp(dir=self._root))) for _ in range(workers)]
        if os.geteuid() == 0:
            os.chmod(self._root, 0o711)  # workers (nobody) pass through to their own directory, list nothing
        self._idle: asyncio.Queue[_Slot] = asyncio.Queue()
        for slot in self._slots:
            self._idle.put_nowait(slot)
        self._modules: set[str] = set()
        self._closed = False
        self.unavailable: tuple[str, ...] = ()  # protections this machine could not give the last worker
        with contextlib.suppress(RuntimeError):  # in a running loop (the bot starting): start workers now
            asyncio.get_running_loop()
            for slot in self._slots:
                self._prepare(slot)

    @staticmethod
    def _make_slot_dir(path: str) -> str:
        os.makedirs(path, mode=0o700, exist_ok=True)
        if os.geteuid() == 0:
            os.chown(path, NOBODY, NOBODY)
        return path

    def _prepare(self, slot: _Slot) -> asyncio.Task[_Worker]:
        if slot.pool is None:
            slot.pool = asyncio.ensure_future(self._launch(slot))
        return slot.pool

    async def _launch(self, slot: _Slot) -> _Worker:
        """Start a worker and wait until it is confined and ready for a file."""
        paths = [os.path.abspath(entry or os.curdir) for entry in sys.path]
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-I", "-c", _BOOTSTRAP, *paths,
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL,
            env={}, cwd="/", close_fds=True, start_new_session=True,
        )  # fmt: skip
        worker = _Worker(process)
        try:
            worker.send(Config(slot.temp_dir, preload=tuple(sorted(self._modules)), **self._limits))
            answer = await asyncio.wait_for(worker.receive(), _START_SECONDS)
        except (TimeoutError, _Broken):
            answer = ("failed", "it did not answer")
        except BaseException:
            await worker.reap()
            raise
        if not (isinstance(answer, tuple) and len(answer) == 3 and answer[0] == "ready"):
            await worker.reap()
            failed = isinstance(answer, tuple) and len(answer) == 2 and answer[0] == "failed"
            log.error("sanitizer sandbox: a worker did not start: %s", answer[1] if failed else "wrong answer")
            raise SanitizeError("busy")  # no file can be cleaned now; the next one starts a new worker
        _, unavailable, private_temp = answer
        self._report(tuple(unavailable) + (() if private_temp or self._in_memory else ("memory-backed temp dir",)))
        return worker

    def _report(self, unavailable: tuple[str, ...]) -> None:
        global _reported
        self.unavailable = unavailable
        if unavailable and not _reported:
            _reported = True
            log.warning(
                "sanitizer sandbox: not available on this machine: %s; files are cleaned with the other protections",
                ", ".join(unavailable),
            )

    async def run(self, func: Callable[..., Any], *args: Any) -> Any:
        """Run `func(*args)` in a confined worker and return its result.

        `func` must be a picklable top-level function. SanitizeError raised in the worker is re-raised as
        is; a timeout, a crash or running out of memory or CPU raises SanitizeError("too_large"); no free
        slot within `queue_timeout`, or a worker that cannot start (logged), raises SanitizeError("busy"). The
        timeout counts from when the worker takes the task, neither while it waits for a slot nor while the
        worker starts.
        """
        try:
            slot = await asyncio.wait_for(self._idle.get(), self._queue_timeout)
        except TimeoutError:
            raise SanitizeError("busy") from None
        worker = None
        try:
            worker = await self._prepare(slot)
            self._modules.add(func.__module__)
            return await asyncio.wait_for(worker.call(func, args), self._timeout)
        except (TimeoutError, _Broken) as exc:
            raise SanitizeError("too_large") from exc
        finally:
            if worker is not None:
                await worker.reap()
            self._discard(slot)
            if not self._closed:
                self._prepare(slot)
            self._idle.put_nowait(slot)

    def _discard(self, slot: _Slot) -> None:
        """Kill the slot's worker and wipe what it left in its temporary directory."""
        task, slot.pool = slot.pool, None
        if task is not None:
            if task.done() and not task.cancelled() and task.exception() is None:
                task.result().kill()
            task.cancel()
        shutil.rmtree(slot.temp_dir, ignore_errors=True)
        self._make_slot_dir(slot.temp_dir)

    async def close(self) -> None:
        self._closed = True
        for slot in self._slots:
            task, slot.pool = slot.pool, None
            if task is not None and task.done() and not task.cancelled() and task.exception() is None:
                await task.result().reap()
            elif task is not None:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
        self._remove_root()
