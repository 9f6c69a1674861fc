"""Run sanitizers in a child process with memory, CPU and wall-clock limits.

A hostile file (decompression bomb, decoder bug) must not crash, exhaust or block the bot's asyncio
loop (DESIGN.md, threat 4). Workers are started with "spawn" (forking a process that runs an event
loop and threads is unsafe), get RLIMIT_AS and RLIMIT_CPU limits and no core dumps (a core file
would write a reporter's unsanitized file to disk). A worker that crashes, runs out of memory or
overruns the timeout is killed and the pool is replaced; the caller sees SanitizeError("too_large").
"""

from __future__ import annotations

import asyncio
import math
import multiprocessing
import os
import resource
import shutil
import tempfile
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from typing import Any

from .clean import SanitizeError


def _cap(limit: int, hard: int) -> int:
    return limit if hard == resource.RLIM_INFINITY else min(limit, hard)


def _set_cpu_budget(cpu_seconds: int) -> None:
    """Allow `cpu_seconds` more CPU seconds from now (RLIMIT_CPU counts the process's lifetime)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    _, hard = resource.getrlimit(resource.RLIMIT_CPU)
    soft = _cap(math.ceil(usage.ru_utime + usage.ru_stime) + cpu_seconds, hard)
    # Only the soft limit moves (SIGXCPU kills the worker); it may be raised again for the next task.
    resource.setrlimit(resource.RLIMIT_CPU, (soft, hard))


def _init_worker(memory_bytes: int, cpu_seconds: int, temp_dir: str) -> None:
    """Pool initializer, runs in each child before any task. Temporary files go to the slot's own
    private directory, which the parent wipes if it has to kill the child mid-task."""
    tempfile.tempdir = temp_dir
    os.environ["TMPDIR"] = temp_dir
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    limit = _cap(memory_bytes, hard)
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    _set_cpu_budget(cpu_seconds)


def _run_task(cpu_seconds: int, func: Callable[..., Any], *args: Any) -> Any:
    """Runs in the child: a fresh CPU budget for every task, then the task itself."""
    _set_cpu_budget(cpu_seconds)
    return func(*args)


@dataclass
class _Slot:
    """One worker: its one-process pool (started on first use) and its private temporary directory."""

    temp_dir: str
    pool: ProcessPoolExecutor | None = None


class Sandbox:
    """`workers` child processes, each in its own one-process pool, so that killing one (timeout, out of
    memory) never takes down a file being cleaned beside it."""

    def __init__(
        self,
        memory_limit_mb: int = 1024,
        cpu_seconds: int = 20,
        timeout: float = 30.0,
        workers: int = 2,
    ):
        self._memory_bytes = memory_limit_mb * 1024 * 1024
        self._cpu_seconds = cpu_seconds
        self._timeout = timeout
        self._root = tempfile.mkdtemp(prefix="tipbot-sandbox-")  # mode 0700
        self._slots = [_Slot(tempfile.mkdtemp(dir=self._root)) for _ in range(workers)]
        self._idle: asyncio.Queue[_Slot] = asyncio.Queue()
        for slot in self._slots:
            self._idle.put_nowait(slot)

    def _start(self, slot: _Slot) -> ProcessPoolExecutor:
        if slot.pool is None:
            slot.pool = ProcessPoolExecutor(
                max_workers=1,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_init_worker,
                initargs=(self._memory_bytes, self._cpu_seconds, slot.temp_dir),
            )
        return slot.pool

    def _discard(self, slot: _Slot) -> None:
        """Kill the slot's process and wipe what it left in its temporary directory."""
        pool, slot.pool = slot.pool, None
        if pool is not None:
            # The executor has no public way to kill a busy worker before Python 3.14.
            for process in list((getattr(pool, "_processes", None) or {}).values()):
                process.kill()
                process.join(timeout=5)
            pool.shutdown(wait=False, cancel_futures=True)
        shutil.rmtree(slot.temp_dir, ignore_errors=True)
        os.makedirs(slot.temp_dir, mode=0o700, exist_ok=True)

    async def run(self, func: Callable[..., Any], *args: Any) -> Any:
        """Run `func(*args)` in a child process and return its result.

        `func` must be a picklable top-level function. SanitizeError raised in the child is re-raised as
        is; a timeout, a crash or running out of memory raises SanitizeError("too_large"). The timeout
        counts from when a worker takes the task, not while it waits for a free worker.
        """
        slot = await self._idle.get()
        try:
            pool = self._start(slot)
            future = asyncio.get_running_loop().run_in_executor(pool, _run_task, self._cpu_seconds, func, *args)
            return await asyncio.wait_for(future, self._timeout)
        except SanitizeError:
            raise
        except (TimeoutError, BrokenProcessPool, MemoryError) as exc:
            self._discard(slot)
            raise SanitizeError("too_large") from exc
        finally:
            self._idle.put_nowait(slot)

    async def close(self) -> None:
        for slot in self._slots:
            pool, slot.pool = slot.pool, None
            if pool is not None:
                await asyncio.to_thread(pool.shutdown, wait=True, cancel_futures=True)
        shutil.rmtree(self._root, ignore_errors=True)
