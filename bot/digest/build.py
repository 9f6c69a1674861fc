"""A digest as text: a header with counts, then every tip with its answers. Pure: no Telegram, no SQL."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import date

from storage.repository import StoredFile, StoredTip

from ..collation import sort_key
from ..flows.catalog import FlowCatalog
from ..flows.model import Flow, QuestionType
from ..flows.regions import OTHER_COUNTRY, REGIONS, localized, region_texts
from ..i18n import gettext_for
from ..render import format_answer, question_title, split_message
from .charts import category_question

TOP_REGIONS = 8
SHORT_ANSWER = 80
"""Answers up to this length share a line with their question."""


@dataclass(frozen=True)
class DigestEntry:
    tip_id: str
    texts: list[str]
    files: list[StoredFile]


@dataclass(frozen=True)
class Digest:
    header: str
    entries: list[DigestEntry]


def build_digest(tips: list[StoredTip], flows: FlowCatalog, lang: str, today: date) -> Digest:
    entries = [
        DigestEntry(tip.id, split_message(render_tip(tip, flows.get(tip.flow_id, tip.flow_version), lang)), tip.files)
        for tip in tips
    ]
    return Digest(render_header(tips, flows, lang, today), entries)


def render_header(tips: list[StoredTip], flows: FlowCatalog, lang: str, today: date) -> str:
    _ = gettext_for(lang)
    urgent = sum(1 for tip in tips if tip.urgent)
    lines = [
        _("📋 Digest of {date}").format(date=today.strftime("%d.%m.%Y")),
        _("New reports: {count}").format(count=len(tips)),
    ]
    if urgent:
        lines.append(_("🔴 Urgent: {count}").format(count=urgent))
    countries = Counter(country_of(tip, flows, lang) for tip in tips)
    countries.pop(None, None)
    if countries:
        listed = _ranked(countries, lang)
        lines.append(_("By country: {list}").format(list=listed))
    regions = Counter(region for tip in tips if (region := region_of(tip, flows, lang)))
    if regions:
        listed = _ranked(regions, lang, TOP_REGIONS)
        lines.append(_("By region: {list}").format(list=listed))
    categories = Counter(label for tip in tips for label in categories_of(tip, flows, lang))
    if categories:
        listed = _ranked(categories, lang)
        lines.append(_("By category: {list}").format(list=listed))
    return "\n".join(lines)


def render_tip(tip: StoredTip, flow: Flow | None, lang: str) -> str:
    _ = gettext_for(lang)
    heading = _("Report {id} · {date}").format(id=tip.short_id, date=tip.created_on.strftime("%d.%m.%Y"))
    urgent = _("URGENT")
    lines = [f"🔴 {urgent} · {heading}" if tip.urgent else f"▪️ {heading}"]
    if flow is None:
        lines.append(
            _("(questionnaire {flow} version {version} is not available)").format(
                flow=tip.flow_id, version=tip.flow_version
            )
        )
        lines.extend(f"{key}: {value}" for key, value in tip.answers.items())
        return "\n".join(lines)
    lines.append("")
    for question in flow.questions:
        answer = tip.answers.get(question.id)
        if not question.asks or answer is None:
            continue
        title, text = question_title(flow, question, lang), format_answer(flow, question, answer, lang)
        short = len(text) <= SHORT_ANSWER and "\n" not in text
        lines.append(f"• {title}: {text}" if short else f"• {title}:\n{text}")
    return "\n".join(lines)


def no_new_tips(lang: str) -> str:
    _ = gettext_for(lang)
    return _("No new reports since the last digest.")


def country_of(tip: StoredTip, flows: FlowCatalog, lang: str) -> str | None:
    flow = flows.get(tip.flow_id, tip.flow_version)
    if flow is None:
        return None
    for question in flow.questions:
        answer = tip.answers.get(question.id)
        if question.type is QuestionType.REGION and isinstance(answer, dict):
            country = REGIONS.get(answer.get("country", ""))
            if country:
                return localized(country.name, lang)
            if answer.get("country") == OTHER_COUNTRY:
                _ = gettext_for(lang)
                return _("other countries")
    return None


def region_of(tip: StoredTip, flows: FlowCatalog, lang: str) -> str | None:
    flow = flows.get(tip.flow_id, tip.flow_version)
    if flow is None:
        return None
    for question in flow.questions:
        answer = tip.answers.get(question.id)
        if question.type is QuestionType.REGION and isinstance(answer, dict) and answer.get("region"):
            names = region_texts(answer["region"])
            return localized(names, lang) if names else answer["region"]
    return None


def categories_of(tip: StoredTip, flows: FlowCatalog, lang: str) -> list[str]:
    """Labels of the tip's answers to the flow's category question (see charts.category_question)."""
    flow = flows.get(tip.flow_id, tip.flow_version)
    question = category_question(flow) if flow else None
    if flow is None or question is None:
        return []
    answer = tip.answers.get(question.id)
    chosen = answer if isinstance(answer, list) else [answer] if answer else []
    return [flow.text(option.text, lang) if (option := question.option(value)) else str(value) for value in chosen]


def _ranked(counts: Counter, lang: str, limit: int | None = None) -> str:
    """ "name: count" pairs, most first, ties in the language's alphabetical order."""
    ordered = sorted(counts.items(), key=lambda item: (-item[1], sort_key(item[0], lang)))[:limit]
    return ", ".join(f"{name}: {count}" for name, count in ordered)
