"""A flow back to the YAML form admins edit: the inverse of loader.parse_flow."""

from __future__ import annotations

from typing import Any

import yaml

from .model import NUMERIC_OPERATORS, AllOf, AnyOf, Compare, Condition, Flow, Not, Question

DEFAULTS = {"required": None, "max_length": 2000, "max_files": 10, "countries": ("UZ", "KZ", "TM")}


def flow_to_raw(flow: Flow) -> dict[str, Any]:
    return {
        "id": flow.id,
        "version": flow.version,
        "languages": list(flow.languages),
        "title": dict(flow.title),
        "questions": [_question(question) for question in flow.questions],
    }


def flow_to_yaml(flow: Flow) -> str:
    return yaml.safe_dump(flow_to_raw(flow), allow_unicode=True, sort_keys=False, width=100)


def _question(question: Question) -> dict[str, Any]:
    raw: dict[str, Any] = {"id": question.id, "type": question.type.value}
    if question.required != question.asks:
        raw["required"] = question.required
    if question.quick:
        raw["quick"] = True
    raw["text"] = dict(question.text)
    for key in ("label", "hint", "constraint_message", "required_message"):
        texts = getattr(question, key)
        if texts:
            raw[key] = dict(texts)
    if question.options:
        raw["options"] = [{"id": option.id, "text": dict(option.text)} for option in question.options]
    if question.when is not None:
        raw["when"] = _condition(question.when)
    if question.urgent_if:
        raw["urgent_if"] = list(question.urgent_if)
    for key in ("min", "max"):
        if getattr(question, key) is not None:
            raw[key] = getattr(question, key)
    if question.max_length != DEFAULTS["max_length"]:
        raw["max_length"] = question.max_length
    if question.max_files != DEFAULTS["max_files"]:
        raw["max_files"] = question.max_files
    if question.countries != DEFAULTS["countries"]:
        raw["countries"] = list(question.countries)
    return raw


def _condition(condition: Condition) -> dict[str, Any]:
    if isinstance(condition, Compare) and condition.operator in NUMERIC_OPERATORS:
        limit = float(condition.values[0])
        return {"question": condition.question, condition.operator: int(limit) if limit.is_integer() else limit}
    if isinstance(condition, Compare):
        values = list(condition.values)
        value: Any = values if condition.operator == "in" or len(values) > 1 else values[0]
        return {"question": condition.question, condition.operator: value}
    if isinstance(condition, AllOf):
        return {"all": [_condition(part) for part in condition.parts]}
    if isinstance(condition, AnyOf):
        return {"any": [_condition(part) for part in condition.parts]}
    if isinstance(condition, Not):
        return {"not": _condition(condition.part)}
    raise TypeError(f"unknown condition {condition!r}")
