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
import resource
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from bot.privacy.images import SanitizeError


def _cap(limit: int, hard: int) -> int:
    return limit if hard == resource.RLIM_INFINITY else min(limit, hard)


def _set_cpu_budget(cpu_seconds: int) -> None:
    """Allow `cpu_seconds` more CPU seconds from now (RLIMIT_CPU counts the process's lifetime)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    _, hard = resource.getrlimit(resource.RLIMIT_CPU)
    soft = _cap(math.ceil(usage.ru_utime + usage.ru_stime) + cpu_seconds, hard)
    # Only the soft limit moves (SIGXCPU kills the worker); it may be raised again for the next task.
    resource.setrlimit(resource.RLIMIT_CPU, (soft, hard))


def _init_worker(memory_bytes: int, cpu_seconds: int) -> None:
    """Pool initializer, runs in each child before any task."""
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    limit = _cap(memory_bytes, hard)
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    _set_cpu_budget(cpu_seconds)


def _run_task(cpu_seconds: int, func: Callable[..., Any], *args: Any) -> Any:
    """Runs in the child: a fresh CPU budget for every task, then the task itself."""
    _set_cpu_budget(cpu_seconds)
    return func(*args)


class Sandbox:
    def __init__(
        self,
        memory_limit_mb: int = 1024,
        cpu_seconds: int = 20,
        timeout: float = 30.0,
        workers: int = 1,
    ):
        self._memory_bytes = memory_limit_mb * 1024 * 1024
        self._cpu_seconds = cpu_seconds
        self._timeout = timeout
        self._workers = workers
        self._pool: ProcessPoolExecutor | None = None
        # At most `workers` tasks are submitted at once, so the timeout measures running time,
        # not time spent queueing behind other files.
        self._slots = asyncio.Semaphore(workers)

    def _get_pool(self) -> ProcessPoolExecutor:
        if self._pool is None:
            self._pool = ProcessPoolExecutor(
                max_workers=self._workers,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_init_worker,
                initargs=(self._memory_bytes, self._cpu_seconds),
            )
        return self._pool

    def _discard(self, pool: ProcessPoolExecutor) -> None:
        """Kill the pool's processes and forget the pool; the next call starts a new one."""
        if self._pool is pool:
            self._pool = None
        # The executor has no public way to kill busy workers before Python 3.14.
        for process in list((getattr(pool, "_processes", None) or {}).values()):
            process.kill()
        pool.shutdown(wait=False, cancel_futures=True)

    async def run(self, func: Callable[..., Any], *args: Any) -> Any:
        """Run `func(*args)` in a child process and return its result.

        `func` must be a picklable top-level function. SanitizeError raised in the child is
        re-raised as is; a timeout, a crash or running out of memory raises SanitizeError("too_large").
        With workers > 1, a task running beside one that is killed fails as well.
        """
        async with self._slots:
            pool = self._get_pool()
            loop = asyncio.get_running_loop()
            future = loop.run_in_executor(pool, _run_task, self._cpu_seconds, func, *args)
            try:
                return await asyncio.wait_for(future, self._timeout)
            except SanitizeError:
                raise
            except (TimeoutError, BrokenProcessPool, MemoryError) as exc:
                self._discard(pool)
                raise SanitizeError("too_large") from exc

    async def close(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            await asyncio.to_thread(pool.shutdown, wait=True, cancel_futures=True)
