"""A digest as text: a header with counts, then every tip with its answers. Pure: no Telegram, no SQL."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import date

from storage.repository import StoredFile, StoredTip

from ..flows.catalog import FlowCatalog
from ..flows.model import Flow, QuestionType
from ..flows.regions import OTHER_COUNTRY, REGIONS, localized
from ..i18n import gettext_for
from ..render import format_answer, question_title, split_message

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
    countries = Counter(_country_of(tip, flows, lang) for tip in tips)
    countries.pop(None, None)
    if countries:
        listed = ", ".join(f"{name}: {count}" for name, count in countries.most_common())
        lines.append(_("By country: {list}").format(list=listed))
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


def _country_of(tip: StoredTip, flows: FlowCatalog, lang: str) -> str | None:
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
