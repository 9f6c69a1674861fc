"""The reporter's screens that the questionnaire engine does not draw: the language picker, the safety notice,
help, the start buttons, the receipt, the identifier question and why a file was refused.

Pure: text and buttons only, in the reporter's language, shared by Telegram and `tipbot try`.
"""

from __future__ import annotations

from . import callbacks, follow_up
from .flows.model import Flow
from .i18n import LANGUAGE_NAMES, LANGUAGES, N_, gettext_for, ordered_languages
from .privacy.images import MAX_PIXELS
from .privacy.media import MAX_VOICE_DURATION
from .privacy.receipts import format_code
from .privacy.sanitize import ACCEPTED_FORMATS
from .render import Button, Screen, erase_row, question_title

MAX_MEGAPIXELS = MAX_PIXELS // 1_000_000
MAX_VOICE_MINUTES = int(MAX_VOICE_DURATION // 60)
REPORTER_COMMANDS = (
    ("start", N_("begin a report or choose the language")),
    ("language", N_("change the language")),
    ("privacy", N_("what is stored and what is not")),
    ("cancel", N_("delete the report you are writing")),
    ("forget", N_("delete the report and this whole conversation")),
    ("status", N_("check a report you sent, with its receipt code")),
    ("help", N_("what this bot does")),
)
"""Commands with their descriptions, for /help and for Telegram's command menu."""
DISCREET_COMMANDS = (
    ("start", N_("start")),
    ("language", N_("change the language")),
    ("privacy", N_("privacy")),
    ("cancel", N_("cancel and clear the chat")),
    ("forget", N_("clear the chat")),
    ("status", N_("check with a code")),
    ("help", N_("help")),
)
"""The same commands described so that a look at the phone's menu says nothing about what the bot is for."""
CHOOSE_LANGUAGE = N_("Choose your language")
CLEARED = N_("Chat cleared.")
"""The one neutral line left after a conversation was deleted from the chat (in discreet mode, always)."""
RECEIPT_DONE = callbacks.receipt_done()
"""The receipt's button; the clearing's random id follows after a colon."""
REMOVE_IDENTIFIER, KEEP_IDENTIFIER = callbacks.IDENTIFIER_REMOVE, callbacks.IDENTIFIER_KEEP


def fallback_language(preferred: str | None) -> str:
    """The language Telegram reports when the bot has it, else Russian (the region's common language)."""
    return preferred if preferred in LANGUAGES else "ru"


def language_picker(preferred: str | None, has_draft: bool) -> Screen:
    order = ordered_languages(preferred)
    lines = [gettext_for(lang)(CHOOSE_LANGUAGE) for lang in order]
    if has_draft:
        _ = gettext_for(fallback_language(preferred))
        lines.extend(["", _("Your unfinished report is kept.")])
    buttons = tuple((Button(LANGUAGE_NAMES[lang], callbacks.language(lang)),) for lang in order)
    return Screen("\n".join(lines), buttons)


def privacy_screen(
    lang: str, with_start: bool, voice_shift: bool = True, idle_minutes: int = 30, discreet: bool = True
) -> Screen:
    """The same facts as the README's "What tipbot stores and what it does not", for reporters."""
    _ = gettext_for(lang)
    voice = _("• Voice messages are re-recorded with a changed voice, so that it is harder to recognise.")
    neutral = _(
        "• The bot's description and menu say nothing about reports, and after the chat is cleared only the "
        "line “{cleared}” is left."
    ).format(cleared=_(CLEARED))
    text = "\n\n".join(
        [
            _("Before you start:"),
            _(
                "• This bot does not keep your Telegram name, username, phone number or account number. "
                "Your report is stored encrypted, and only the date is recorded, not the time."
            ),
            _(
                "• Do not write your own name or anything that could identify you. Names and posts of "
                "officials who gave orders are welcome."
            ),
            _(
                "• Hidden data is removed from files (place, camera, author, comments). What can be seen or "
                "heard in them stays: check that a photo does not show you or your documents."
            ),
            *([voice] if voice_shift else []),
            _(
                "• If an answer seems to contain a phone number, a passport number or the like, the bot shows it "
                "and asks whether to remove it before you send."
            ),
            _(
                "• Telegram itself can see this chat, as it sees every chat with a bot. However the conversation "
                "ends (report sent, /cancel, /forget or the “🧹 Erase and leave” button), the bot deletes it from "
                "the chat. If you stop answering for {minutes} minutes, the chat is cleared too; an unfinished "
                "report is kept for a day so that you can still send it, unless you erase it."
            ).format(minutes=idle_minutes),
            _("• “🧹 Erase and leave”, under every question, deletes the report and this whole conversation at once."),
            *([neutral] if discreet else []),
            _(
                "• Staff read reports in their own Telegram group: Telegram and their phones keep those messages. "
                "An urgent report reaches them at once, so they see when it was sent."
            ),
        ]
    )
    start = ((Button(_("Start a report"), callbacks.BEGIN),), (Button(_("Check my report"), follow_up.CHECK),))
    buttons = start if with_start else ()
    return Screen(text, buttons)


def help_screen(lang: str, discreet: bool) -> Screen:
    """What /help shows, also to strangers: in discreet mode nothing about what the bot is for."""
    _ = gettext_for(lang)
    if discreet:
        lines = [_("Send /start to begin. The chat is cleared when you finish."), ""]
    else:
        lines = [_("This bot takes anonymous reports about forced and child labour."), ""]
    lines.extend(f"/{name}: {_(description)}" for name, description in commands(discreet))
    return Screen("\n".join(lines))


def commands(discreet: bool) -> tuple[tuple[str, str], ...]:
    """The reporter's commands with their (untranslated) descriptions, for /help and the command menu."""
    return DISCREET_COMMANDS if discreet else REPORTER_COMMANDS


def start_screen(lang: str) -> Screen:
    _ = gettext_for(lang)
    buttons = ((Button(_("Start a report"), callbacks.BEGIN),), (Button(_("Check my report"), follow_up.CHECK),))
    return Screen(_("Press the button to begin a new report."), buttons)


def receipt_screen(code: str, done: str, lang: str) -> Screen:
    """The receipt: the code, what it is for and when to use it, and the button that clears the chat."""
    _ = gettext_for(lang)
    text = "\n\n".join(
        [
            _("Thank you. Your report has been received."),
            _("Your receipt code: {code}").format(code=format_code(code)),
            _(
                "Staff read new reports every day and may write to you with questions or an answer. With this "
                "code you can read what they write and answer them, from this or any other Telegram account: "
                "send /status and the code in 2–3 days."
            ),
            _("Write the code down somewhere safe, not on this phone."),
            _("When you press the button, this whole conversation is deleted from the chat."),
        ]
    )
    return Screen(text, ((Button(_("I have written it down"), done),),))


def flow_picker(flows: list[Flow], lang: str) -> Screen:
    _ = gettext_for(lang)
    buttons = tuple((Button(flow.text(flow.title, lang)[:60], callbacks.flow(flow.id)),) for flow in flows)
    return Screen(_("What is your report about?"), (*buttons, erase_row(lang)))


def identifier_screen(flow: Flow, pending: dict[str, str], lang: str) -> Screen:
    _ = gettext_for(lang)
    question = flow.question(pending["question"])
    title = question_title(flow, question, lang) if question else pending["question"]
    intro = {
        "phone": _("Your answer to “{question}” seems to contain a phone number:"),
        "email": _("Your answer to “{question}” seems to contain an e-mail address:"),
        "username": _("Your answer to “{question}” seems to contain a Telegram username:"),
        "passport": _("Your answer to “{question}” seems to contain a passport number:"),
        "personal_id": _("Your answer to “{question}” seems to contain a personal identification number:"),
    }[pending["kind"]].format(question=title)
    text = "\n\n".join([intro, pending["text"], _("It could identify you or someone else. Remove it from the report?")])
    buttons = ((Button(_("Remove it"), REMOVE_IDENTIFIER), Button(_("Keep it"), KEEP_IDENTIFIER)), erase_row(lang))
    return Screen(text, buttons)


def file_refusal(reason: str, lang: str, max_bytes: int) -> str:
    _ = gettext_for(lang)
    if reason == "too_large":
        text = _(
            "This file is too large or too complex to be checked safely. Files up to {limit} MB are accepted, "
            "images up to {megapixels} megapixels and voice messages up to {minutes} minutes."
        )
        return text.format(limit=max_bytes // (1024 * 1024), megapixels=MAX_MEGAPIXELS, minutes=MAX_VOICE_MINUTES)
    if reason == "malformed":
        return _("This file could not be read. Please try another one.")
    if reason == "busy":
        return _("Many files are being checked right now. Please send this file again in a minute.")
    formats = {family: ", ".join(names) for family, names in ACCEPTED_FORMATS.items()}
    return _(
        "This type of file is not accepted. You can send photos and images ({images}), documents "
        "({documents}), voice messages, audio ({audio}) and video ({video})."
    ).format(**formats)
