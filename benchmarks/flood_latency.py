"""Benchmark (not a test): how long another reporter waits for each answer while one chat floods the bot.

    .venv/bin/python benchmarks/flood_latency.py [--rounds R] [--bursts B] [--interval S] [--default-limits]

Starts the real bot (PTB Application, sanitizer sandbox, SQLite in a temporary folder) against the fake Bot API
server of the tests. One chat, answering staff about a report it checked with its receipt code, floods: B bursts,
one every S seconds, each of 3 voice notes, 3 noisy photos, 3 photo documents and 31 texts sent at once (every
file is sanitized, every text stored). Meanwhile R other reporters, one after another, walk through the whole
default questionnaire step by step, waiting for each answer. Prints the latency of their steps (p50, p99,
slowest), then how long the bot took to work through the flood.

By default the flooding chat's per-chat limits are lifted so the flood costs the most (the worst case for
scheduling); `--default-limits` keeps the shipped limits, which refuse most of the flood cheaply. Runs pinned to
at most 2 CPUs where the OS allows it, like the target machine; the fake server shares the bot's event loop, so
the figures are somewhat pessimistic. Target: p99 under 2 s.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # the fake Bot API server and the test helpers live in tests/
os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))

from bot.config import load_settings  # noqa: E402
from bot.follow_up import ANSWER, DONE  # noqa: E402
from tests.fakebotapi import FakeBotAPI, FakeUser  # noqa: E402
from tests.flood import FloodFiles, burst, check_report, timed_walk, tip_with_code  # noqa: E402
from tests.harness import Reporter, running_bot  # noqa: E402

TARGET_P99 = 2.0
CODE = "4921 0387 5566 1290"


def pin_to_two_cpus() -> str:
    if not hasattr(os, "sched_setaffinity"):
        return f"{os.cpu_count()} CPUs (not pinned)"
    cpus = sorted(os.sched_getaffinity(0))
    os.sched_setaffinity(0, cpus[:2])
    return f"pinned to CPUs {cpus[:2]} of {len(cpus)}"


async def measure(args: argparse.Namespace, folder: Path) -> tuple[list[tuple[str, float]], int, float]:
    """The walkers' step timings, how many flood updates were sent, and seconds from the last burst until the
    bot had answered every one of them."""
    lifted = {} if args.default_limits else {"max_follow_up_messages_per_hour": 1000, "max_files_per_hour": 1000}
    async with FakeBotAPI() as api:
        settings = load_settings(
            _env_file=None,  # nothing from a developer's .env: no staff chat, so nothing is forwarded
            staff_chat_ids="",
            token=FakeBotAPI.token,
            api_base_url=api.base_url,
            api_file_url=api.base_file_url,
            data_dir=folder / "data",
            database_url=f"sqlite+aiosqlite:///{folder / 'tipbot.db'}",
            secret_key="b" * 40,
            log_level="WARNING",
            **lifted,
        )
        files = FloodFiles.make()
        async with running_bot(settings) as runtime:
            flooder = Reporter(api, FakeUser(id=7900001, first_name="Flood", language_code="ru"))
            await tip_with_code(runtime, CODE)
            await check_report(flooder, CODE)
            await flooder.press_and_wait(ANSWER, lambda m: DONE in str(m.reply_markup))
            before = len(api.sent_to(flooder.chat))
            sent = 0
            last_burst = time.perf_counter()

            async def flood() -> None:
                nonlocal sent, last_burst
                for _ in range(args.bursts):
                    sent += burst(api, flooder.user, files)
                    last_burst = time.perf_counter()
                    await asyncio.sleep(args.interval)

            flooding = asyncio.create_task(flood())
            timings: list[tuple[str, float]] = []
            for number in range(args.rounds):
                walker = Reporter(api, FakeUser(id=7900100 + number, first_name="Walker", language_code="en"))
                timings += await timed_walk(walker)
            await flooding
            await api.wait_until(lambda: len(api.sent_to(flooder.chat)) - before >= sent, timeout=3600)
            return timings, sent, time.perf_counter() - last_burst


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5, help="reporters walking the questionnaire, one after another")
    parser.add_argument("--bursts", type=int, default=6, help="bursts from the flooding chat")
    parser.add_argument("--interval", type=float, default=3.0, help="seconds between two bursts")
    parser.add_argument("--default-limits", action="store_true", help="keep the shipped per-chat limits")
    args = parser.parse_args()

    cpus = pin_to_two_cpus()
    print(f"python {platform.python_version()} on {platform.machine()}, {cpus}")
    limits = "shipped limits" if args.default_limits else "limits lifted for the flood"
    print(f"{args.bursts} bursts of 40 updates every {args.interval:g} s, {args.rounds} reporters walking; {limits}")
    with tempfile.TemporaryDirectory(prefix="tipbot-flood-") as folder:
        timings, sent, drain = asyncio.run(measure(args, Path(folder)))

    seconds = sorted(value for _, value in timings)
    cuts = statistics.quantiles(seconds, n=100, method="inclusive")
    p50, p99 = cuts[49], cuts[98]
    slowest = sorted(timings, key=lambda item: item[1], reverse=True)[:5]
    print(f"\n{len(seconds)} steps of the other reporters (seconds from input to the bot's answer):")
    print(f"  p50 {p50:6.3f}   p99 {p99:6.3f}   slowest {seconds[-1]:6.3f}")
    print("  slowest steps: " + ", ".join(f"{name} {value:.2f}" for name, value in slowest))
    print(f"the flood: {sent} updates from one chat, all answered {drain:.1f} s after the last burst")
    passed = p99 < TARGET_P99
    print(f"{'PASS' if passed else 'FAIL'}: p99 {p99:.3f} s (target under {TARGET_P99:g} s)")
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
