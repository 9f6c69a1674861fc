"""What one chat's conversation keeps between events: its mode and the state that mode needs.

A `Session` is stored encrypted under the chat's HMAC key (never with a tip) and is all the conversation knows
about a chat when the next event arrives; everything about the event itself lives in `Turn`. The mode says
what the next event means, so each mode has one small handler in `bot.conversation`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from storage.repository import random_id

from .flows.engine import Draft

MAX_TRACE = 1000
"""A conversation longer than this many messages keeps only the newest ids for deletion."""


class Mode(StrEnum):
    LANGUAGE = "language"
    """No language chosen yet: every event gets the language picker."""
    WELCOME = "welcome"
    """A language is chosen and no report is in progress: the start buttons, or a story typed straight away."""
    QUESTIONNAIRE = "questionnaire"
    """Answering the questions of a flow (also an admin's preview of an uploaded one)."""
    IDENTIFIER = "identifier"
    """Before the review: a likely identifier was found in an answer; remove it or keep it."""
    RECEIPT = "receipt"
    """The report was sent: every event shows its receipt again until the reporter has written the code down
    (or erases the chat). Stored with the tip, so neither a crash nor a failed send loses the code."""
    CODE_CHECK = "code_check"
    """Waiting for a receipt code."""
    FOLLOW_UP = "follow_up"
    """Reading what staff wrote about a checked report."""
    ANSWERING = "answering"
    """Writing to staff about a checked report: text and files go to them."""


@dataclass
class Session:
    """One chat's state between events. `trace` holds the ids of the conversation's messages (the
    reporter's and the bot's) so they can all be deleted from the phone; it lives only as long as the
    conversation and is never stored with a tip."""

    mode: Mode = Mode.LANGUAGE
    lang: str | None = None
    draft: Draft | None = None
    preview: bool = False
    """The draft is an admin trying out an uploaded questionnaire: nothing is stored at the end."""
    identifier: dict[str, str] | None = None
    """In IDENTIFIER mode: the likely identifier found, with the question it is in."""
    kept: list[str] = field(default_factory=list)
    """Identifiers the reporter chose to keep, so they are not asked about again."""
    receipt: dict[str, str] | None = None
    """In RECEIPT mode: the code and the clearing that will delete the conversation with it. The only time a
    row keyed by the chat holds something that leads to a tip; deleted once the code is written down."""
    trace: list[int] = field(default_factory=list)
    reach: int | None = None
    """How to reach the chat to clear it later (its id), kept only while there is something to clear."""
    active_at: str | None = None
    """When the reporter last did something (ISO time), to clear a conversation left idle."""
    bundle: str | None = None
    """The random id under which this draft's files are stored."""
    last_screen: int | None = None
    """The bot's newest message, which an album's further files update instead of sending new ones."""
    album: str | None = None
    """Telegram's id of the album whose files are arriving, to acknowledge it once."""
    last_update: int = 0
    follow_up: dict[str, str] | None = None
    """While a checked report is open (FOLLOW_UP and ANSWERING): its tip id and until when ("tip", "until").
    Besides the receipt, the only time a row keyed by the chat leads to a tip: set when a receipt code was
    checked, cleared by "Done", any command, erasing, idle clearing, and once "until" has passed."""

    def open_follow_up(self, tip_id: str, until: datetime) -> None:
        self.follow_up = {"tip": tip_id, "until": until.isoformat()}

    def follow_up_tip(self, now: datetime) -> str | None:
        """The tip of the open follow-up; one whose time has passed is forgotten here."""
        if self.follow_up is not None and datetime.fromisoformat(self.follow_up["until"]) <= now:
            self.follow_up = None
        return self.follow_up["tip"] if self.follow_up is not None else None

    def resting_mode(self) -> Mode:
        """The mode to return to when a check or a follow-up is over."""
        if self.lang is None:
            return Mode.LANGUAGE
        return Mode.QUESTIONNAIRE if self.draft is not None else Mode.WELCOME

    def drop_draft(self) -> None:
        """Forget the report in progress but keep the trace, so the chat can still be cleared."""
        self.draft, self.identifier, self.kept, self.preview = None, None, [], False
        self.mode = self.resting_mode()

    def files_bundle(self) -> str:
        if self.bundle is None:
            self.bundle = random_id()
        return self.bundle

    def worth_keeping(self) -> bool:
        return bool(self.lang or self.draft or self.trace or self.receipt or self.follow_up)

    def to_json(self) -> dict[str, Any]:
        return {
            "mode": self.mode.value,
            "lang": self.lang,
            "draft": self.draft.to_json() if self.draft else None,
            "preview": self.preview,
            "identifier": self.identifier,
            "kept": self.kept,
            "receipt": self.receipt,
            "trace": self.trace[-MAX_TRACE:],
            "reach": self.reach,
            "active_at": self.active_at,
            "bundle": self.bundle,
            "last_screen": self.last_screen,
            "album": self.album,
            "last_update": self.last_update,
            "follow_up": self.follow_up,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any], chat_key: str) -> Session:
        session = cls(
            lang=data.get("lang"),
            draft=Draft.from_json(data["draft"]) if data.get("draft") else None,
            preview=bool(data.get("preview")),
            identifier=data.get("identifier"),
            kept=list(data.get("kept", [])),
            receipt=data.get("receipt"),
            trace=list(data.get("trace", [])),
            reach=data.get("reach"),
            active_at=data.get("active_at"),
            bundle=data.get("bundle", chat_key),  # drafts begun before bundles used the key
            last_screen=data.get("last_screen"),
            album=data.get("album"),
            last_update=data.get("last_update", 0),
            follow_up=data.get("follow_up"),
        )
        session.mode = Mode(data["mode"]) if data.get("mode") else _mode_of_old(data, session)
        return session


def _mode_of_old(data: dict[str, Any], session: Session) -> Mode:
    """Sessions stored before modes kept flags instead; the highest flag was what the next event meant."""
    if data.get("identifier"):
        return Mode.IDENTIFIER
    if data.get("answering"):
        return Mode.ANSWERING
    if data.get("checking"):
        return Mode.CODE_CHECK
    return session.resting_mode()
