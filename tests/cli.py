"""Running `python -m bot …` as a user would, with only the settings a test gives."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def tipbot(*args: str, cwd: Path, env: dict[str, str] | None = None, stdin: str = "") -> subprocess.CompletedProcess:
    """Run the CLI in `cwd` (so no stray .env is read) and capture what it prints."""
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT), "TIPBOT_DATA_DIR": str(cwd / "data"), **(env or {})},
        cwd=cwd,
        timeout=120,
    )
