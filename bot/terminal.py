"""`tipbot try`: the same conversation in a terminal, for admins and for anyone without a bot token.

Buttons are numbered. A button is pressed by typing its number, or "#" and its number, or its words (in any
case; where no other button starts the same way, their beginning is enough). Anything else is an answer.
Where a question is answered by typing (a text, a number, a date, a place abroad) a bare number is the
answer, and a button is pressed only by "#2" or its words in full. To attach a file, type its path. The
report is stored like one sent through Telegram.
"""

from __future__ import annotations

import os
import re
import secrets
from pathlib import Path
from typing import TextIO

from . import callbacks
from .conversation import Command, Event, Reply, Upload
from .flows.engine import Press, Text
from .i18n import N_, gettext_for
from .render import Button, Screen
from .runtime import Runtime

HELP = N_(
    "To press a button, type its number, #number or its words; anything else is your answer (where you type "
    "an answer, a bare number is the answer). To attach a file, type its path."
)
NUMBERED = re.compile(r"(#\s*)?(\d{1,4})")
FILE_NAME = re.compile(r"\.[A-Za-z0-9]{1,5}\Z")
"""A name ending like photo.jpg: such lines, and those with a "/" or a leading "~", are looked up as files."""


class TerminalSession:
    def __init__(self, runtime: Runtime, output: TextIO):
        self.runtime = runtime
        self.output = output
        self.chat_key = secrets.token_hex(32)
        self.buttons: list[Button] = []
        self.typed = False
        """The screen with the buttons is answered by typing."""
        self.update = 0

    async def send(self, event: Event) -> Reply:
        self.update += 1
        reply = await self.runtime.conversation.handle(self.chat_key, event, self.update)
        self.show(reply)
        return reply

    def show(self, reply: Reply) -> None:
        if reply.toast:
            self._print(f"! {reply.toast}")
        screens = list(reply.messages)
        if reply.rewrite is not None:
            screens.insert(0, reply.rewrite[1])
        if reply.edit is not None and reply.edit.buttons:
            screens.insert(0, reply.edit)
        for screen in screens:
            self._print_screen(screen)

    def _print_screen(self, screen: Screen) -> None:
        self._print("")
        self._print(screen.text)
        if screen.buttons:
            self.buttons = [button for row in screen.buttons for button in row]
            self.typed = screen.typed
            for number, button in enumerate(self.buttons, start=1):
                self._print(f"  [{number}] {button.label}")

    def _print(self, line: str) -> None:
        self.output.write(line + "\n")
        self.output.flush()

    def event_for(self, line: str) -> Event:
        text = line.strip()
        button = self._button(text)
        if button is not None:
            return Press(button.action)
        path = _existing_file(text)
        if path is not None:
            return Upload(path.stat().st_size, _reader(path))
        if text.startswith("/") and len(text) > 1:
            return Command(text[1:].split()[0].lower())
        return Text(line.rstrip("\n"))

    def _button(self, text: str) -> Button | None:
        """The button `text` presses, if any (see the module's docstring)."""
        numbered = NUMBERED.fullmatch(text)
        if numbered and (numbered.group(1) or not self.typed):
            number = int(numbered.group(2))
            return self.buttons[number - 1] if 1 <= number <= len(self.buttons) else None
        words = _words(text)
        if not words:
            return None
        labels = [(_words(button.label), button) for button in self.buttons]
        found = [button for label, button in labels if label == words]
        if not found and not self.typed:
            found = [button for label, button in labels if label.startswith(words)]
        return found[0] if len(found) == 1 else None


def _words(text: str) -> str:
    """A label or a typed line as plain words: no marks, emoji or arrows, any case, any apostrophe."""
    return " ".join(re.findall(r"[^\W_\u02bb\u02bc]+", text.casefold()))  # Uzbek's ʻ and ʼ are apostrophes too


def _existing_file(text: str) -> Path | None:
    """The file a typed line names. Only lines that look like a path are looked up, and a line the system
    cannot take as one (too long, a NUL character, an unknown ~user) is simply an answer."""
    if "\n" in text or not (os.sep in text or text.startswith("~") or FILE_NAME.search(text)):
        return None
    try:
        path = Path(text).expanduser()
        return path if path.is_file() else None
    except (OSError, ValueError, RuntimeError):
        return None


def _reader(path: Path):
    async def read() -> bytes:
        return path.read_bytes()

    return read


async def run_terminal(runtime: Runtime, lang: str | None, lines: TextIO, output: TextIO) -> bool:
    """Play the conversation until the report is sent or input ends; True if a report was stored."""
    _ = gettext_for(lang or "en")
    session = TerminalSession(runtime, output)
    output.write(_(HELP) + "\n")
    if lang:
        await session.send(Press(callbacks.language(lang)))
    else:
        await session.send(Command("start"))
    while True:
        output.write("> ")
        output.flush()
        line = lines.readline()
        if not line:
            break
        reply = await session.send(session.event_for(line))
        if reply.submitted:
            return True
    await runtime.repository.delete_draft(session.chat_key)
    output.write("\n" + _("The unfinished report was not sent and has been deleted.") + "\n")
    return False
