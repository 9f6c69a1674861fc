"""Test-only functions for Sandbox.run.

They run in a sandbox worker, which imports them by module name, so they live here at module level
(not inside a test file).
"""

from __future__ import annotations

import contextlib
import os
import time


def child_pid() -> int:
    return os.getpid()


def allocate(megabytes: int) -> int:
    """Ask for `megabytes` of memory at once (a decompression bomb's effect)."""
    block = bytearray(megabytes * 1024 * 1024)
    return len(block)


def sleep(seconds: float) -> float:
    """Block without using CPU (a hung decoder)."""
    time.sleep(seconds)
    return seconds


def burn_cpu(seconds: float) -> float:
    """Spin until this process has used `seconds` more CPU time (a decoder in a loop)."""
    end = time.process_time() + seconds
    while time.process_time() < end:
        pass
    return seconds


def leave_temp_file_then_sleep(seconds: float) -> None:
    """Like a sanitizer killed mid-task: a temporary file holding the original is left behind."""
    import tempfile
    import time

    with open(os.path.join(tempfile.mkdtemp(), "original.bin"), "wb") as handle:
        handle.write(b"ORIGINAL-BYTES")
    time.sleep(seconds)


def probe(data_dir: str, port: int) -> dict:
    """What a decoder taken over by a hostile file could reach from inside the sandbox."""
    import errno
    import resource
    import socket
    import tempfile

    def attempt(action) -> str:
        try:
            action()
        except OSError as exc:
            return errno.errorcode.get(exc.errno, str(exc.errno))
        return "ok"

    def read(path: str) -> bytes:
        with open(path, "rb") as handle:
            return handle.read()

    def connect() -> None:
        with socket.create_connection(("127.0.0.1", port), timeout=2):
            pass

    environ = attempt(lambda: read("/proc/self/environ"))
    temp_dir = tempfile.gettempdir()
    mounts = [line.split() for line in read("/proc/self/mounts").decode().splitlines()]
    holding = [mount for mount in mounts if (temp_dir + "/").startswith(mount[1].rstrip("/") + "/")]
    temp_fs = max(holding, key=lambda mount: len(mount[1]))[2]
    slots: list[str] = []
    slots_listing = attempt(lambda: slots.extend(os.listdir(os.path.dirname(temp_dir))))
    descriptors = {}
    for name in os.listdir("/proc/self/fd"):
        with contextlib.suppress(OSError):
            descriptors[int(name)] = os.readlink(f"/proc/self/fd/{name}")
    return {
        "uid": os.getuid(),
        "secret_key": attempt(lambda: read(os.path.join(data_dir, "secret.key"))),
        "database": attempt(lambda: read(os.path.join(data_dir, "tipbot.db"))),
        "list_data_dir": attempt(lambda: os.listdir(data_dir)),
        "write_data_dir": attempt(lambda: open(os.path.join(data_dir, "x"), "wb").close()),
        "environ": dict(os.environ),
        "proc_environ": read("/proc/self/environ") if environ == "ok" else environ,
        "parent_environ": attempt(lambda: read(f"/proc/{os.getppid()}/environ")),
        "parent_memory": attempt(lambda: read(f"/proc/{os.getppid()}/mem")),
        "connect": attempt(connect),
        "udp": attempt(lambda: socket.socket(socket.AF_INET, socket.SOCK_DGRAM).close()),
        "cpu": resource.getrlimit(resource.RLIMIT_CPU),
        "cpu_used": time.process_time(),
        "nproc": resource.getrlimit(resource.RLIMIT_NPROC),
        "fsize": resource.getrlimit(resource.RLIMIT_FSIZE),
        "core": resource.getrlimit(resource.RLIMIT_CORE),
        "address_space": resource.getrlimit(resource.RLIMIT_AS),
        "temp_dir": temp_dir,
        "temp_fs": temp_fs,
        "write_temp": attempt(lambda: open(os.path.join(temp_dir, "x"), "wb").close()),
        "slots": slots if slots_listing == "ok" else slots_listing,
        "descriptors": descriptors,
    }


def burn_cpu_ignoring_sigxcpu(seconds: float) -> float:
    """A decoder that ignores the soft CPU limit's signal: only the hard limit stops it."""
    import signal

    signal.signal(signal.SIGXCPU, signal.SIG_IGN)
    return burn_cpu(seconds)


class _Payload:
    """Unpickles as a call to os.mkdir: what a worker taken over by a file could send back to the bot."""

    def __init__(self, path: str):
        self.path = path

    def __reduce__(self):
        return (os.mkdir, (self.path,))


def answer_with_code(path: str) -> _Payload:
    return _Payload(path)
