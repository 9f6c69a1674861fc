"""Test-only functions for Sandbox.run.

They run in a "spawn" child, which imports them by module name, so they live here at module level
(not inside a test file).
"""

from __future__ import annotations

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
