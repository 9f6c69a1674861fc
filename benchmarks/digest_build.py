"""Benchmark (not a test): the daily digest for 10,000 reports, with its chart and the staff exports.

    .venv/bin/python benchmarks/digest_build.py [--tips N] [--repeat R]

Builds synthetic reports for the default flow over the last 30 days (answers in Russian, Uzbek, Kazakh
and English, some urgent, some with small attachments), then times build_digest + render_chart (the part
with a target) and export_csv + export_xlsx (reported separately), each `repeat` times, and reports the
best wall time. Runs pinned to at most 2 CPUs where the OS allows it, like the target machine. Memory is
measured in one extra round under tracemalloc (which slows Python down, so it is not timed).
"""

from __future__ import annotations

import argparse
import gc
import os
import platform
import random
import resource
import sys
import time
import tracemalloc
from datetime import date, timedelta

from bot.digest.build import build_digest
from bot.digest.charts import render_chart
from bot.digest.export import export_csv, export_xlsx
from bot.flows.catalog import FlowCatalog
from bot.flows.model import Flow
from bot.flows.regions import REGIONS
from storage.repository import StoredFile, StoredTip

TARGET_SECONDS = 3.0
TODAY = date(2026, 10, 20)
LANG = "ru"

PHRASES = {
    "ru": [
        "Всех учителей школы отправили на хлопок, норма 60 кг в день.",
        "Завуч сказал, кто не поедет, будет уволен.",
        "За замену требуют 300 тысяч сумов в неделю.",
        "Детей из 7-9 классов забирают с уроков после обеда.",
        "Хоким района лично приезжал на поле и ругался.",
        "Зарплату за сентябрь не выплатили, говорят, после сбора.",
        "Живём в бараке без воды, спим на полу.",
    ],
    "uz": [
        "Maktabimizdagi barcha o‘qituvchilarni paxtaga yuborishdi, kunlik norma 60 kg.",
        "Direktor o‘rinbosari bormaganlar ishdan bo‘shatiladi, dedi.",
        "Terimchi yollash uchun haftasiga 300 ming so‘m so‘rashyapti.",
        "Mahalla raisi har bir xonadondan bir kishi chiqishi shart, dedi.",
        "Hokim o‘zi dalaga kelib, hammani so‘kdi.",
        "Sentyabr oyligini berishmadi, terimdan keyin deyishyapti.",
    ],
    "kk": [
        "Мектептің барлық мұғалімдерін мақта теруге жіберді, күндік норма 50 кг.",
        "Бармағандар жұмыстан шығарылады деп қорқытты.",
        "Жалақыны үш ай бойы төлемеді.",
        "Шахтада паспортымызды алып қойды, кетуге жібермейді.",
        "Әкімдіктен келіп, тізім бойынша бәрін шақырды.",
    ],
    "en": [
        "All teachers of our school were sent to the cotton fields, quota 60 kg a day.",
        "The deputy head said those who refuse will be fired.",
        "They demand money for a replacement picker every week.",
        "Our passports were taken at the mine and we cannot leave.",
    ],
}


def synthetic_tips(flow: Flow, count: int, today: date, seed: int = 1) -> list[StoredTip]:
    rng = random.Random(seed)
    options = {question.id: [option.id for option in question.options] for question in flow.questions}
    countries = {code: list(REGIONS[code].regions) for code in ("UZ", "KZ", "TM")}
    tips = []
    for _ in range(count):
        day = today - timedelta(days=rng.randrange(30))
        what = rng.sample(options["what"], k=rng.choice((1, 1, 2, 2, 3, 4)))
        country = rng.choices(["UZ", "KZ", "TM", "other"], weights=[70, 20, 8, 2])[0]
        start = day - timedelta(days=rng.choice((0, 0, 0, 3, 10, 30)))
        answers: dict = {
            "what": what,
            "sector": rng.choice(options["sector"]),
            "work": rng.choice(options["work"]),
            "region": (
                {"country": "other", "place": "Москва"}
                if country == "other"
                else {"country": country, "region": rng.choice(countries[country])}
            ),
            "period": {"start": start.isoformat(), "end": day.isoformat()},
            "children": rng.choice(("yes", "no", "no")),
            "ordered_by": rng.choice(options["ordered_by"]),
            "description": " ".join(rng.choices(PHRASES[rng.choice(list(PHRASES))], k=rng.randint(1, 12))),
            "danger_now": "yes" if rng.random() < 0.05 else "no",
        }
        if "quota" in what:
            answers["quota_kg"] = rng.choice((40, 50, 60, 80, 100))
        if rng.random() < 0.6:
            answers["people"] = rng.randint(1, 500)
        if answers["children"] == "yes":
            answers["children_ages"] = rng.sample(options["children_ages"], k=rng.randint(1, 2))
            answers["children_school"] = rng.choice(("yes", "no"))
        files = []
        if rng.random() < 0.3:
            kinds = rng.choices(["image", "image", "document", "voice", "video"], k=rng.randint(1, 4))
            answers["evidence"] = kinds
            files = [StoredFile(f"{rng.getrandbits(64):016x}", kind, "image/jpeg", os.urandom(64)) for kind in kinds]
        tip_id = f"{rng.getrandbits(128):032x}"
        tips.append(StoredTip(tip_id, flow.id, flow.version, answers, day, flow.is_urgent(answers), files))
    tips.sort(key=lambda tip: (tip.created_on, tip.id))  # as the repository returns them
    return tips


def digest_and_chart(tips: list[StoredTip], flows: FlowCatalog) -> None:
    build_digest(tips, flows, LANG, TODAY)
    render_chart(tips, flows, LANG, TODAY)


def exports(tips: list[StoredTip], flows: FlowCatalog) -> None:
    export_csv(tips, flows, LANG)
    export_xlsx(tips, flows, LANG)


def timed_rounds(repeat: int, tips: list[StoredTip], flows: FlowCatalog) -> list[dict[str, float]]:
    """Wall time of each step, per round."""
    steps = {
        "build_digest": lambda: build_digest(tips, flows, LANG, TODAY),
        "render_chart": lambda: render_chart(tips, flows, LANG, TODAY),
        "export_csv": lambda: export_csv(tips, flows, LANG),
        "export_xlsx": lambda: export_xlsx(tips, flows, LANG),
    }
    rounds = []
    for _ in range(repeat):
        times = {}
        for name, step in steps.items():
            gc.collect()
            start = time.perf_counter()
            step()
            times[name] = time.perf_counter() - start
        rounds.append(times)
    return rounds


def pin_to_two_cpus() -> str:
    if not hasattr(os, "sched_setaffinity"):
        return f"{os.cpu_count()} CPUs (not pinned)"
    cpus = sorted(os.sched_getaffinity(0))
    os.sched_setaffinity(0, cpus[:2])
    return f"pinned to CPUs {cpus[:2]} of {len(cpus)}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tips", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    cpus = pin_to_two_cpus()
    flows = FlowCatalog.shipped()
    tips = synthetic_tips(flows.active, args.tips, TODAY)
    urgent = sum(tip.urgent for tip in tips)
    files = sum(len(tip.files) for tip in tips)
    print(f"python {platform.python_version()} on {platform.machine()}, {cpus}")
    print(f"{len(tips)} synthetic reports over 30 days up to {TODAY}: {urgent} urgent, {files} files; digest in {LANG}")

    render_chart(tips[:10], flows, LANG, TODAY)  # warm up: imports, font cache, gettext catalogue
    rounds = timed_rounds(args.repeat, tips, flows)
    core = [times["build_digest"] + times["render_chart"] for times in rounds]
    extra = [times["export_csv"] + times["export_xlsx"] for times in rounds]
    parts = {name: [times[name] for times in rounds] for name in rounds[0]}

    gc.collect()
    tracemalloc.start()
    digest_and_chart(tips, flows)
    _, core_peak = tracemalloc.get_traced_memory()
    tracemalloc.reset_peak()
    exports(tips, flows)
    _, export_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    maxrss_mb = maxrss / (1024 * 1024) if sys.platform == "darwin" else maxrss / 1024

    print(f"\nbest of {args.repeat} (wall time):")
    print(f"  build_digest + render_chart   {min(core):7.3f} s   (all: {', '.join(f'{t:.3f}' for t in core)})")
    print(f"  export_csv + export_xlsx      {min(extra):7.3f} s   (all: {', '.join(f'{t:.3f}' for t in extra)})")
    for name, times in parts.items():
        print(f"    {name:<27} {min(times):7.3f} s")
    print("peak memory:")
    print(f"  tracemalloc, build + chart    {core_peak / 2**20:7.1f} MiB")
    print(f"  tracemalloc, exports          {export_peak / 2**20:7.1f} MiB")
    print(f"  maxrss of the process         {maxrss_mb:7.1f} MiB (includes the {len(tips)} synthetic tips)")
    print(f"\ntarget: under {TARGET_SECONDS:g} seconds on 2 cores, chart included")
    passed = min(core) < TARGET_SECONDS
    verdict = "PASS" if passed else "FAIL"
    print(f"{verdict}: build_digest + render_chart took {min(core):.3f} s (target {TARGET_SECONDS:g} s)")
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
