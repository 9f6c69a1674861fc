"""What a phone shows about the bot before any conversation: its command menu, description and short
description, in every language. In discreet mode none of them says what the bot is for, so a glance at a
seized phone's chat list or the bot's profile reveals nothing."""

from __future__ import annotations

from telegram import Bot, BotCommand, BotCommandScopeAllPrivateChats

from ..i18n import LANGUAGES, N_, TELEGRAM_CODES, gettext_for
from ..screens import commands

DESCRIPTIONS = {
    True: (
        N_("Short questionnaires. Press Start to begin; the chat is cleared when you finish."),
        N_("Short questionnaires."),
    ),
    False: (
        N_(
            "Report forced or child labour anonymously: a short questionnaire. Nothing that identifies you is "
            "stored, and the chat is cleared when you finish."
        ),
        N_("Anonymous reports about forced and child labour."),
    ),
}
"""(description, short description) by discreet mode."""


async def publish_profile(bot: Bot, discreet: bool) -> None:
    """Commands and descriptions per language; Russian for Telegram apps set to any other language."""
    description, short = DESCRIPTIONS[discreet]
    for lang in (None, *(lang for lang in LANGUAGES if TELEGRAM_CODES.get(lang, lang))):
        _ = gettext_for(lang or "ru")
        menu = [BotCommand(name, _(text)) for name, text in commands(discreet)]
        await bot.set_my_commands(menu, scope=BotCommandScopeAllPrivateChats(), language_code=lang)
        await bot.set_my_description(_(description), language_code=lang)
        await bot.set_my_short_description(_(short), language_code=lang)
