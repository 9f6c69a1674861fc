"""A JSON Schema (draft 2020-12) of YAML flow files, for editors.

Point an editor at it (VS Code's YAML extension: a `# yaml-language-server: $schema=flow.schema.json` line at
the top of the file, or the `yaml.schemas` setting) and it completes keys, shows what each one means and
underlines mistakes while typing. The schema checks the shape of one file; the loader checks everything that
needs the whole flow (a `when` naming an earlier question, texts in every language of the flow, questions
that can never be asked...), so `tipbot flows validate` stays the final word.
"""

from __future__ import annotations

import json
from typing import Any

from ..i18n import LANGUAGE_NAMES, LANGUAGES
from .loader import (
    COMPARE_OPERATORS,
    DEFAULT_COUNTRIES,
    FLOW_ID_PATTERN,
    ID_PATTERN,
    MAX_BUTTON_TEXT,
    MAX_MESSAGE,
    MAX_QUESTION_TEXT,
    MAX_TITLE,
    TYPE_KEYS,
)
from .model import NUMERIC_OPERATORS, QuestionType
from .regions import REGIONS

DRAFT = "https://json-schema.org/draft/2020-12/schema"

TYPE_DESCRIPTIONS = {
    QuestionType.CHOICE: "one answer from a list: one button per option",
    QuestionType.MULTI: "any number of answers from a list: the reporter ticks options, then presses Done",
    QuestionType.YESNO: "Yes or No buttons (the bot's own, in the reporter's language)",
    QuestionType.TEXT: "a written answer, up to max_length characters",
    QuestionType.NUMBER: "a number the reporter writes (also “about 40”, “40-50”, “60 kg”), between min and max",
    QuestionType.DATE: (
        "a day or a period the reporter writes (“today”, 15.09.2026, “in September”, “since September”, "
        "01.09.2026–20.10.2026), or the Not sure button"
    ),
    QuestionType.REGION: "a country button (from countries, or “Another country”), then a region button",
    QuestionType.ATTACHMENTS: "files (photos, documents, voice, video) sent one by one, then Done",
    QuestionType.INFO: "a text with a Continue button; asks nothing and leaves no answer",
}

OPERATOR_DESCRIPTIONS = {
    "equals": "holds when the answer is this option (or, for text, exactly this text); choice, yesno, text",
    "not_equals": "holds when the question was answered with something else; choice, yesno, text",
    "includes": "holds when a multi answer includes this option (or one of these options); multi only",
    "in": "holds when the answer is one of these options; choice, yesno, text",
    "gt": "holds when a number answer is greater than this number; number only",
    "ge": "holds when a number answer is this number or more; number only",
    "lt": "holds when a number answer is less than this number; number only",
    "le": "holds when a number answer is this number or less; number only",
}


def _texts(description: str, max_length: int | None) -> dict[str, Any]:
    text: dict[str, Any] = {"type": "string", "minLength": 1}
    if max_length is not None:
        text["maxLength"] = max_length
    return {
        "description": description,
        "type": "object",
        "minProperties": 1,
        "propertyNames": {"$ref": "#/$defs/language"},
        "additionalProperties": text,
        "examples": [{"ru": "…", "uz": "…", "kk": "…", "en": "…"}],
    }


def _value() -> dict[str, Any]:
    return {
        "description": "an option id (yes or no for a yesno question), or a text for a text question",
        "type": ["string", "boolean", "number"],
    }


def flow_schema() -> dict[str, Any]:
    """The JSON Schema of a YAML flow file."""
    kinds = [kind.value for kind in QuestionType]
    type_rules: list[dict[str, Any]] = []
    for kind in QuestionType:
        forbidden = {key: False for key, allowed in TYPE_KEYS.items() if kind not in allowed}
        then: dict[str, Any] = {"properties": forbidden}
        if kind in (QuestionType.CHOICE, QuestionType.MULTI):
            then["required"] = ["options"]
        if kind is QuestionType.INFO:
            forbidden["required"] = {"const": False, "description": "Info screens are never required."}
            forbidden["quick"] = {"const": False, "description": "Info screens are never part of the quick report."}
        else:
            forbidden["text"] = {"$ref": "#/$defs/texts", "description": "The question in each language."}
        type_rules.append({"if": {"properties": {"type": {"const": kind.value}}}, "then": then})
    country_codes = list(REGIONS) or list(DEFAULT_COUNTRIES)
    return {
        "$schema": DRAFT,
        "title": "tipbot questionnaire (flow)",
        "description": (
            "A questionnaire the bot asks reporters, in several languages. Check a file with "
            "`tipbot flows validate FILE`: it also finds what this schema cannot (see docs/flows.md)."
        ),
        "type": "object",
        "required": ["id", "languages", "title", "questions"],
        "additionalProperties": False,
        "properties": {
            "id": {
                "description": (
                    "The flow's name for the bot and the database, e.g. silk-2026: 1-40 characters of a-z, 0-9, "
                    "- or _. Keep it when you publish a changed version: the bot counts versions per id."
                ),
                "type": "string",
                "pattern": FLOW_ID_PATTERN.pattern,
            },
            "version": {
                "description": (
                    "A whole number from 1. Publishing gives the new version its number, so you may leave it out."
                ),
                "type": "integer",
                "minimum": 1,
            },
            "languages": {
                "description": (
                    "The languages every text is given in; the first is used where a text is missing. Each must "
                    "be a language the bot has its own messages in: "
                    + ", ".join(f"{code} ({LANGUAGE_NAMES[code]})" for code in LANGUAGES)
                    + "."
                ),
                "type": "array",
                "minItems": 1,
                "uniqueItems": True,
                "items": {"$ref": "#/$defs/language"},
            },
            "title": _texts(
                f"The flow's name in each language, shown when reporters choose between flows (at most "
                f"{MAX_TITLE} characters).",
                MAX_TITLE,
            ),
            "questions": {
                "description": "The questions in the order they are asked. Branch with when.",
                "type": "array",
                "minItems": 1,
                "items": {"$ref": "#/$defs/question"},
            },
        },
        "$defs": {
            "language": {
                "description": "A language code the bot has a catalogue for.",
                "enum": list(LANGUAGES),
            },
            "id": {
                "description": "1-24 characters of a-z, 0-9 or _; used in exports and in the buttons' data.",
                "type": "string",
                "pattern": ID_PATTERN.pattern,
            },
            "option_id": {
                "description": (
                    "An option id: 1-24 characters of a-z, 0-9 or _ (yes and no also mean the yesno answers)."
                ),
                "anyOf": [{"type": "string", "pattern": ID_PATTERN.pattern}, {"type": "boolean"}],
            },
            "texts": _texts(
                f"A text in each language of the flow (at most {MAX_QUESTION_TEXT} characters each).",
                MAX_QUESTION_TEXT,
            ),
            "info_text": _texts(
                f"The text of an info screen in each language; with its hint it must fit into one Telegram "
                f"message ({MAX_MESSAGE} characters).",
                MAX_MESSAGE,
            ),
            "button_texts": _texts(
                f"A button label in each language (at most {MAX_BUTTON_TEXT} characters; under 40 reads best).",
                MAX_BUTTON_TEXT,
            ),
            "option": {
                "description": "One answer of a choice or multi question: a button.",
                "type": "object",
                "required": ["id", "text"],
                "additionalProperties": False,
                "properties": {
                    "id": {
                        "$ref": "#/$defs/option_id",
                        "description": "The answer as stored and exported; unique within the question.",
                    },
                    "text": {
                        "$ref": "#/$defs/button_texts",
                        "description": (
                            f"The button label in each language, at most {MAX_BUTTON_TEXT} characters; two "
                            "options of one question cannot have the same label."
                        ),
                    },
                },
            },
            "values": {
                "description": "One value, or a list of values (any of them).",
                "anyOf": [_value(), {"type": "array", "minItems": 1, "items": _value()}],
            },
            "condition": {
                "description": (
                    "When to ask a question, tested on the answers to earlier questions: {question: q, equals: "
                    "value}, or all/any of a list of conditions, or not of a condition."
                ),
                "oneOf": [
                    {"$ref": "#/$defs/compare"},
                    {"$ref": "#/$defs/all"},
                    {"$ref": "#/$defs/any"},
                    {"$ref": "#/$defs/not"},
                ],
            },
            "compare": {
                "description": "A test on one earlier question's answer: question and exactly one operator.",
                "type": "object",
                "required": ["question"],
                "minProperties": 2,
                "maxProperties": 2,
                "additionalProperties": False,
                "properties": {
                    "question": {"$ref": "#/$defs/id", "description": "The id of an earlier question."},
                    **{
                        operator: {
                            **({"type": "number"} if operator in NUMERIC_OPERATORS else {"$ref": "#/$defs/values"}),
                            "description": OPERATOR_DESCRIPTIONS[operator],
                        }
                        for operator in COMPARE_OPERATORS
                    },
                },
            },
            "all": {
                "description": "Holds when every condition in the list holds.",
                "type": "object",
                "required": ["all"],
                "additionalProperties": False,
                "properties": {
                    "all": {
                        "description": "Conditions that must all hold.",
                        "type": "array",
                        "minItems": 1,
                        "items": {"$ref": "#/$defs/condition"},
                    }
                },
            },
            "any": {
                "description": "Holds when at least one condition in the list holds.",
                "type": "object",
                "required": ["any"],
                "additionalProperties": False,
                "properties": {
                    "any": {
                        "description": "Conditions of which at least one must hold.",
                        "type": "array",
                        "minItems": 1,
                        "items": {"$ref": "#/$defs/condition"},
                    }
                },
            },
            "not": {
                "description": "Holds when the condition does not hold (also when its question was not answered).",
                "type": "object",
                "required": ["not"],
                "additionalProperties": False,
                "properties": {
                    "not": {"$ref": "#/$defs/condition", "description": "The condition that must not hold."}
                },
            },
            "question": {
                "description": "One question (or info screen) of the flow.",
                "type": "object",
                "required": ["id", "type", "text"],
                "additionalProperties": False,
                "properties": {
                    "id": {
                        "$ref": "#/$defs/id",
                        "description": (
                            "The question's name in exports and in when; 1-24 characters of a-z, 0-9 or _, "
                            "unique in the flow. Keep it when you reword a question, so answers stay comparable."
                        ),
                    },
                    "type": {
                        "description": "What kind of answer the question takes: "
                        + "; ".join(f"{kind.value}: {text}" for kind, text in TYPE_DESCRIPTIONS.items())
                        + ".",
                        "enum": kinds,
                    },
                    "text": {
                        "$ref": "#/$defs/info_text",
                        "description": (
                            f"The question in each language (at most {MAX_QUESTION_TEXT} characters; an info "
                            f"screen's text may be longer, as long as text and hint fit into {MAX_MESSAGE})."
                        ),
                    },
                    "hint": {
                        "$ref": "#/$defs/texts",
                        "description": "A second paragraph under the question: an example, or what not to write.",
                    },
                    "label": {
                        "$ref": "#/$defs/button_texts",
                        "description": (
                            f"A short name (at most {MAX_BUTTON_TEXT} characters) for the review screen, the "
                            "digest and export columns; the text is used where there is no label."
                        ),
                    },
                    "required": {
                        "description": (
                            "true (the default for questions): the reporter must answer; false: a Skip button is "
                            "shown and (optional) is added to the question. Info screens are never required."
                        ),
                        "type": "boolean",
                    },
                    "quick": {
                        "description": (
                            "true: part of the quick report, the short way a reporter may choose (asked in flow "
                            "order, then the review; the other questions are offered afterwards, all optional). "
                            "The first quick text question takes the reporter's own words. Default false."
                        ),
                        "type": "boolean",
                    },
                    "when": {
                        "$ref": "#/$defs/condition",
                        "description": (
                            "Ask this question only when the condition holds on earlier answers; without when it "
                            "is always asked. The first question cannot have one."
                        ),
                    },
                    "constraint_message": {
                        "$ref": "#/$defs/texts",
                        "description": (
                            "Shown instead of the bot's own message when a number is out of range or a text too long."
                        ),
                    },
                    "required_message": {
                        "$ref": "#/$defs/texts",
                        "description": (
                            "Shown instead of the bot's own message when a required question is left without an "
                            "answer (multi without a tick, attachments without a file, an empty text)."
                        ),
                    },
                    "options": {
                        "description": "choice and multi only: the answers, one button each, in this order.",
                        "type": "array",
                        "minItems": 1,
                        "items": {"$ref": "#/$defs/option"},
                    },
                    "urgent_if": {
                        "description": (
                            "choice, multi and yesno only: option ids (yes for a yesno question) that mark the "
                            "whole report urgent in the staff digest."
                        ),
                        "anyOf": [
                            {"$ref": "#/$defs/option_id"},
                            {"type": "array", "minItems": 1, "items": {"$ref": "#/$defs/option_id"}},
                        ],
                    },
                    "min": {"description": "number only: the smallest number accepted.", "type": "number"},
                    "max": {"description": "number only: the largest number accepted.", "type": "number"},
                    "max_length": {
                        "description": "text only: the longest answer accepted, 1-4000 characters (default 2000).",
                        "type": "integer",
                        "minimum": 1,
                        "maximum": 4000,
                    },
                    "max_files": {
                        "description": "attachments only: how many files one report may carry, 1-50 (default 10).",
                        "type": "integer",
                        "minimum": 1,
                        "maximum": 50,
                    },
                    "countries": {
                        "description": (
                            "region only: the country buttons, in this order (default "
                            + ", ".join(DEFAULT_COUNTRIES)
                            + "); “Another country” is always added."
                        ),
                        "type": "array",
                        "minItems": 1,
                        "uniqueItems": True,
                        "items": {"enum": country_codes},
                    },
                },
                "allOf": type_rules,
            },
        },
    }


def schema_text() -> str:
    """The schema as JSON, for `tipbot flows schema > flow.schema.json`."""
    return json.dumps(flow_schema(), ensure_ascii=False, indent=2) + "\n"
