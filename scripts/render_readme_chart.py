"""Render the digest chart shown in the README (docs/digest-chart.png) from a fixed, made-up set of tips.

About 60 reports over 14 days in a cotton harvest, Russian labels. The output is the same on every run:
    .venv/bin/python scripts/render_readme_chart.py
"""

from __future__ import annotations

import random
from datetime import date, timedelta
from pathlib import Path

from bot.digest.charts import render_chart
from bot.flows.catalog import FlowCatalog
from storage.repository import StoredTip

OUTPUT = Path(__file__).resolve().parent.parent / "docs" / "digest-chart.png"
TODAY = date(2026, 10, 14)
DAYS = 14
# Mobilisation to the harvest dominates in autumn; the other categories come with it or alone.
WEIGHTS = {
    "harvest_mobilisation": 10,
    "quota": 5,
    "threats": 4,
    "replacement_payment": 3,
    "child_labour": 2,
    "wages": 2,
    "conditions": 1,
    "documents": 1,
    "other": 1,
}


def fixture_tips(seed: int = 2026) -> list[StoredTip]:
    rng = random.Random(seed)
    tips = []
    for offset in range(DAYS):
        day = TODAY - timedelta(days=DAYS - 1 - offset)
        # more reports as the harvest goes on, a dip at weekends
        count = max(0, round(2 + offset * 0.35 + rng.uniform(-1.5, 1.5)) - (1 if day.weekday() >= 5 else 0))
        for _ in range(count):
            chosen = set(rng.choices(list(WEIGHTS), weights=list(WEIGHTS.values()), k=rng.choice((1, 1, 2, 3))))
            answers = {
                "what": [option for option in WEIGHTS if option in chosen],
                "sector": rng.choice(["teachers", "health", "students", "schoolchildren", "public_sector"]),
                "work": "cotton",
                "region": {"country": "UZ", "region": rng.choice(["UZ-AN", "UZ-FA", "UZ-NG", "UZ-QA", "UZ-SU"])},
                "period": {"start": day.isoformat(), "end": day.isoformat()},
                "children": "no",
                "ordered_by": rng.choice(["hokimiyat", "education_admin", "mahalla"]),
                "description": "…",
                "danger_now": "no",
            }
            tips.append(StoredTip(f"{rng.getrandbits(128):032x}", "forced-labour", 1, answers, day, False))
    return tips


def main() -> None:
    tips = fixture_tips()
    OUTPUT.parent.mkdir(parents=True, exist_ok=True)
    OUTPUT.write_bytes(render_chart(tips, FlowCatalog.shipped(), "ru", TODAY, days=DAYS))
    print(f"{OUTPUT}: {len(tips)} reports, {OUTPUT.stat().st_size} bytes")


if __name__ == "__main__":
    main()
