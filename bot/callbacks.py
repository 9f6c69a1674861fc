"""Every button's callback data in one place: how it is written, how it is read back, and how handlers are
routed by it.

Data is a kind, then its arguments, joined by ":" (no argument contains ":"). Telegram returns it unchanged
when a button is pressed, also on messages sent long before, so the reporter's formats stay as they are
across upgrades: a phone may still show a question or a receipt from the version before. Telegram allows at
most 64 bytes: `encode` refuses anything longer, and anything that would not read back as its kind.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

MAX_BYTES = 64
"""Telegram's limit for a button's data, in bytes."""

# ---- kinds (the first part of the data) ---------------------------------------------------------------------

LANGUAGE, BEGIN, CHECK, ERASE, FLOW = "lang", "begin", "check", "erase", "flow"
IDENTIFIER, RECEIPT, FOLLOW_UP = "identifier", "receipt", "followup"
OPTION, COUNTRY, REGION, NAV, REVIEW, EDIT = "opt", "country", "region", "nav", "review", "edit"
STAFF_LANGUAGE = "staff-lang"
FLOW_ADMIN = "flowadm"
# BEGIN, CHECK and ERASE take no arguments: they are also the data of their buttons.

_ID = r"[A-Za-z0-9_-]{1,64}"
"""Flow, question, option, country and region ids, receipt clearings and upload tokens."""
_WORD = r"[a-z]{1,32}"
_LANG = r"[A-Za-z_]{2,16}"
_FORMS = {
    LANGUAGE: rf"lang:{_LANG}",
    BEGIN: "begin",
    CHECK: "check",
    ERASE: "erase",
    FLOW: rf"flow:{_ID}",
    IDENTIFIER: "identifier:(?:remove|keep)",
    RECEIPT: rf"receipt:done(?::{_ID})?",
    FOLLOW_UP: "followup:(?:answer|done)",
    OPTION: rf"opt:{_ID}:{_ID}",
    COUNTRY: rf"country:{_ID}:{_ID}",
    REGION: rf"region:{_ID}:{_ID}",
    NAV: rf"nav:{_ID}:{_WORD}",
    REVIEW: rf"review:{_WORD}",
    EDIT: rf"edit:{_ID}",
    STAFF_LANGUAGE: rf"staff-lang:{_LANG}",
    FLOW_ADMIN: (
        rf"flowadm:(?:preview:{_ID}:{_LANG}|(?:publish|discard):{_ID}|(?:default|off):{_ID}|on:{_ID}:[0-9]{{1,9}})"
    ),
}
"""What the data of each kind looks like, in full."""
CONVERSATION_KINDS = (LANGUAGE, BEGIN, CHECK, ERASE, FLOW, IDENTIFIER, RECEIPT, FOLLOW_UP)
QUESTIONNAIRE_KINDS = (OPTION, COUNTRY, REGION, NAV, REVIEW, EDIT)
REPORTER_KINDS = CONVERSATION_KINDS + QUESTIONNAIRE_KINDS
"""Buttons any reporter may press."""
STAFF_KINDS = (STAFF_LANGUAGE,)
ADMIN_KINDS = (FLOW_ADMIN,)


@dataclass(frozen=True)
class Callback:
    """Button data read back: its kind and its arguments."""

    kind: str
    args: tuple[str, ...] = ()

    @property
    def data(self) -> str:
        return ":".join((self.kind, *self.args))


def encode(kind: str, *args: str) -> str:
    """The data for a button of `kind`; ValueError if it would not read back as that kind or is too long."""
    data = Callback(kind, args).data
    form = _FORMS.get(kind)
    if form is None or not re.fullmatch(form, data):
        raise ValueError(f"not the button data of a {kind!r} button: {data!r}")
    size = len(data.encode("utf-8"))
    if size > MAX_BYTES:
        raise ValueError(f"button data {data!r} is {size} bytes, over Telegram's limit of {MAX_BYTES}")
    return data


def decode(data: object) -> Callback | None:
    """The button behind `data`, or None for data no button of this bot carries."""
    if not isinstance(data, str):
        return None
    kind = data.split(":", 1)[0]
    form = _FORMS.get(kind)
    if form is None or len(data.encode("utf-8")) > MAX_BYTES or not re.fullmatch(form, data):
        return None
    return Callback(kind, tuple(data.split(":")[1:]))


def pattern(*kinds: str) -> re.Pattern[str]:
    """A pattern for PTB's CallbackQueryHandler that matches the data of these kinds, and nothing else (the
    forms are ASCII, so 64 characters are 64 bytes)."""
    forms = "|".join(f"(?:{_FORMS[kind]})" for kind in kinds)
    return re.compile(rf"\A(?=.{{1,{MAX_BYTES}}}\Z)(?:{forms})\Z")


REPORTER = pattern(*REPORTER_KINDS)
STAFF = pattern(*STAFF_KINDS)
ADMIN = pattern(*ADMIN_KINDS)


def unknown(data: object) -> bool:
    """For the handler that answers presses no button of this bot could have sent (forged or garbled)."""
    return decode(data) is None


# ---- the conversation's buttons -----------------------------------------------------------------------------

IDENTIFIER_REMOVE = encode(IDENTIFIER, "remove")
IDENTIFIER_KEEP = encode(IDENTIFIER, "keep")
FOLLOW_UP_ANSWER = encode(FOLLOW_UP, "answer")
FOLLOW_UP_DONE = encode(FOLLOW_UP, "done")


def language(code: str) -> str:
    return encode(LANGUAGE, code)


def flow(flow_id: str) -> str:
    return encode(FLOW, flow_id)


def receipt_done(clearing_id: str | None = None) -> str:
    """The button under a receipt ("I have written it down"), with the clearing that deletes the conversation."""
    return encode(RECEIPT, "done", *([clearing_id] if clearing_id else []))


# ---- the questionnaire's buttons ----------------------------------------------------------------------------
# Their ids come from a flow file. The loader measures every button of a flow with these builders and refuses
# the flow, naming the question, when one would pass 64 bytes (ids are at most 24 characters, so the longest,
# opt:<24>:<24>, is 53 bytes). So they do not raise: the loader must be able to measure the ids it refuses.


def option(question: str, option_id: str) -> str:
    return Callback(OPTION, (question, option_id)).data


def country(question: str, country_code: str) -> str:
    return Callback(COUNTRY, (question, country_code)).data


def region(question: str, region_code: str) -> str:
    return Callback(REGION, (question, region_code)).data


def nav(question: str, move: str) -> str:
    """A move on a question's screen: any lowercase word (back, skip, done, next, countries, ...)."""
    return Callback(NAV, (question, move)).data


def edit(question: str) -> str:
    return Callback(EDIT, (question,)).data


def review(action: str) -> str:
    """A button of the review screen: any lowercase word (confirm, edit, cancel, show, ...)."""
    return encode(REVIEW, action)


# ---- staff and admin buttons --------------------------------------------------------------------------------


def staff_language(code: str) -> str:
    return encode(STAFF_LANGUAGE, code)


def flow_preview(token: str, lang: str) -> str:
    return encode(FLOW_ADMIN, "preview", token, lang)


def flow_publish(token: str) -> str:
    return encode(FLOW_ADMIN, "publish", token)


def flow_discard(token: str) -> str:
    return encode(FLOW_ADMIN, "discard", token)


def flow_default(flow_id: str) -> str:
    return encode(FLOW_ADMIN, "default", flow_id)


def flow_retire(flow_id: str) -> str:
    return encode(FLOW_ADMIN, "off", flow_id)


def flow_activate(flow_id: str, version: int) -> str:
    return encode(FLOW_ADMIN, "on", flow_id, str(version))
