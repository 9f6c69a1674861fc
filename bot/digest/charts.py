"""The digest chart: reports per day for the last two weeks, stacked by category. Pure: no Telegram, no SQL.

Drawn with matplotlib's object API (`Figure` + the Agg canvas), never through pyplot, so there is no global
figure state: rendering is safe in a worker thread (`asyncio.to_thread`), which is where callers on the
event loop should run it (it takes a fraction of a second of CPU).
"""

from __future__ import annotations

import io
from collections import Counter
from datetime import date, timedelta
from functools import cache

from storage.repository import StoredTip

from ..flows.catalog import FlowCatalog
from ..flows.model import OPTION_TYPES, Flow, Question
from ..i18n import gettext_for

OTHER = "other"
"""Where tips count whose flow is unknown or that have no category answer (also an option id in the default flow)."""

FONT = "DejaVu Sans"  # ships with matplotlib; covers Cyrillic, Kazakh letters and Uzbek ‘ ’
WIDTH_IN, HEIGHT_IN, DPI = 8.0, 14 / 3, 150  # 1200 x 700 px: readable on a phone, text large enough
MAX_SERIES = 10
"""Categories drawn at most, "other" included; the rarest beyond that are counted as "other"."""


def category_question(flow: Flow) -> Question | None:
    """The question that categorises tips: the flow's first `multi` or `choice` question."""
    return next((question for question in flow.questions if question.type in OPTION_TYPES), None)


def tips_per_day(tips: list[StoredTip], flows: FlowCatalog, today: date, days: int = 14) -> dict[date, Counter[str]]:
    """Counts per category option id for each of the last `days` days up to and including `today`.

    Each tip counts once, under the first category it names (in the flow's option order), so a bar's
    height is the number of tips that day; tips outside the window are ignored."""
    if days < 1:
        raise ValueError("days must be at least 1")
    first = today - timedelta(days=days - 1)
    counts: dict[date, Counter[str]] = {first + timedelta(days=n): Counter() for n in range(days)}
    questions: dict[tuple[str, int], Question | None] = {}
    for tip in tips:
        day = counts.get(tip.created_on)
        if day is not None:
            day.update(_categories(tip, flows, questions))
    return counts


def render_chart(tips: list[StoredTip], flows: FlowCatalog, lang: str, today: date, days: int = 14) -> bytes:
    """A PNG (1200 x 700 px) of stacked bars, one per day, with the category labels in `lang`.

    The same input gives the same bytes: the PNG carries no software version or timestamp."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg  # imported here: matplotlib takes 0.5 s to load
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    _ = gettext_for(lang)
    per_day = tips_per_day(tips, flows, today, days)
    series = _series(per_day, tips, flows, lang)

    figure = Figure(figsize=(WIDTH_IN, HEIGHT_IN), dpi=DPI, layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    positions = list(range(days))
    bottoms = [0] * days
    for label, colour, heights in series:
        axes.bar(
            positions, heights, bottom=bottoms, width=0.78, color=colour, edgecolor="white", linewidth=0.6, label=label
        )
        bottoms = [bottom + height for bottom, height in zip(bottoms, heights, strict=True)]

    axes.set_title(_("Reports per day, last {days} days").format(days=days), fontfamily=FONT, fontsize=14, loc="left")
    step = max(1, round(days / 14))  # about 14 date labels fit across a phone screen; today always has one
    ticks = positions[(days - 1) % step :: step]
    dates = list(per_day)
    axes.set_xticks(ticks, [dates[position].strftime("%d.%m") for position in ticks])
    axes.set_xlim(-0.6, days - 0.4)
    axes.set_ylim(0, max(1, max(bottoms)) * 1.04)
    axes.yaxis.set_major_locator(MaxNLocator(integer=True, min_n_ticks=1))
    axes.tick_params(labelfontfamily=FONT, labelsize=10.5, length=3)
    axes.grid(axis="y", color="#dddddd", linewidth=0.8)
    axes.set_axisbelow(True)
    for side in ("top", "right"):
        axes.spines[side].set_visible(False)
    if series:
        figure.legend(
            loc="outside lower center",
            ncols=2,
            frameon=False,
            prop={"family": FONT, "size": 10.5},
            handlelength=1.0,
            columnspacing=1.5,
        )

    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI, metadata={"Software": None})
    figure.clear()
    return buffer.getvalue()


def _categories(tip: StoredTip, flows: FlowCatalog, questions: dict[tuple[str, int], Question | None]) -> list[str]:
    key = (tip.flow_id, tip.flow_version)
    if key not in questions:
        flow = flows.get(*key)
        questions[key] = category_question(flow) if flow is not None else None
    question = questions[key]
    if question is None:
        return [OTHER]
    answer = tip.answers.get(question.id)
    if isinstance(answer, list) and question.options:
        order = {option.id: n for n, option in enumerate(question.options)}
        chosen = sorted(dict.fromkeys(str(value) for value in answer), key=lambda value: order.get(value, len(order)))
    elif isinstance(answer, list):
        chosen = list(dict.fromkeys(str(value) for value in answer))
    elif isinstance(answer, str):
        chosen = [answer]
    else:
        chosen = []
    return chosen[:1] or [OTHER]


def _series(
    per_day: dict[date, Counter[str]], tips: list[StoredTip], flows: FlowCatalog, lang: str
) -> list[tuple[str, tuple[float, ...], list[int]]]:
    """(label, colour, count per day) for each category in the window, bottom of the stack first.

    Categories keep their order and colour from one digest to the next (the active flow's options first);
    beyond MAX_SERIES, the rarest are added to "other", so that the legend and the bars stay legible."""
    palette, other_colour = _palette()
    labels = _labels(tips, flows, lang)
    present = set().union(*per_day.values())
    known = list(labels) + sorted(present - labels.keys())  # ids no flow knows come last, as their own label
    colours = {category: palette[index % len(palette)] for index, category in enumerate(known)}
    colours[OTHER] = other_colour
    totals: Counter[str] = Counter()
    for counts in per_day.values():
        totals.update(counts)
    ranked = sorted(present - {OTHER}, key=lambda category: (-totals[category], known.index(category)))
    kept = set(ranked[: MAX_SERIES - 1]) if len(present) > MAX_SERIES else set(ranked)
    merged = present - kept  # drawn as "other"
    series = []
    for category in known:
        if category in kept:
            series.append((labels.get(category, category), colours[category], [c[category] for c in per_day.values()]))
    if merged:
        heights = [sum(counts[category] for category in merged) for counts in per_day.values()]
        series.append((labels[OTHER], colours[OTHER], heights))
    return series


@cache
def _palette() -> tuple[list[tuple[float, ...]], tuple[float, ...]]:
    """Colours for the categories, and grey for "other".

    tab20 comes in pairs of a dark and a light shade of one hue: all dark shades first, so that neighbouring
    segments differ in hue; its greys (14, 15) are kept for "other"."""
    from matplotlib import colormaps

    tab20 = colormaps["tab20"]
    return [tab20(i) for i in (*range(0, 20, 2), *range(1, 20, 2)) if i not in (14, 15)], tab20(15)


def _labels(tips: list[StoredTip], flows: FlowCatalog, lang: str) -> dict[str, str]:
    """Category option ids and their labels in `lang`: the active flow's first, then those of the tips' flows."""
    candidates = [flows.active]
    seen = {(flows.active.id, flows.active.version)}
    for tip in tips:
        key = (tip.flow_id, tip.flow_version)
        if key not in seen:
            seen.add(key)
            if (flow := flows.get(*key)) is not None:
                candidates.append(flow)
    labels: dict[str, str] = {}
    for flow in candidates:
        question = category_question(flow)
        for option in question.options if question else ():
            labels.setdefault(option.id, flow.text(option.text, lang))
    _ = gettext_for(lang)
    labels.setdefault(OTHER, _("Other"))
    return labels
