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
        self._idle: asyncio.Queue[ProcessPoolExecutor | None] = asyncio.Queue()
        for _ in range(workers):
            self._idle.put_nowait(None)  # a slot whose pool is started on first use
        self._started: set[ProcessPoolExecutor] = set()

    def _new_pool(self) -> ProcessPoolExecutor:
        pool = ProcessPoolExecutor(
            max_workers=1,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_init_worker,
            initargs=(self._memory_bytes, self._cpu_seconds),
        )
        self._started.add(pool)
        return pool

    def _discard(self, pool: ProcessPoolExecutor) -> None:
        """Kill the pool's process; its slot gets a fresh pool on next use."""
        self._started.discard(pool)
        # The executor has no public way to kill a busy worker before Python 3.14.
        for process in list((getattr(pool, "_processes", None) or {}).values()):
            process.kill()
        pool.shutdown(wait=False, cancel_futures=True)

    async def run(self, func: Callable[..., Any], *args: Any) -> Any:
        """Run `func(*args)` in a child process and return its result.

        `func` must be a picklable top-level function. SanitizeError raised in the child is re-raised as
        is; a timeout, a crash or running out of memory raises SanitizeError("too_large"). The timeout
        counts from when a worker takes the task, not while it waits for a free worker.
        """
        pool = await self._idle.get() or self._new_pool()
        try:
            future = asyncio.get_running_loop().run_in_executor(pool, _run_task, self._cpu_seconds, func, *args)
            return await asyncio.wait_for(future, self._timeout)
        except SanitizeError:
            raise
        except (TimeoutError, BrokenProcessPool, MemoryError) as exc:
            self._discard(pool)
            pool = None
            raise SanitizeError("too_large") from exc
        finally:
            self._idle.put_nowait(pool)

    async def close(self) -> None:
        pools, self._started = list(self._started), set()
        for pool in pools:
            await asyncio.to_thread(pool.shutdown, wait=True, cancel_futures=True)
