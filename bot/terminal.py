"""`tipbot try`: the same conversation in a terminal, for admins and for anyone without a bot token.

Buttons are numbered; type the number to press one, or type an answer. For photo questions, type the
path of an image file. The report is stored like one sent through Telegram.
"""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import TextIO

from .conversation import Command, Event, Reply, Upload
from .flows.engine import Press, Text
from .i18n import gettext_for
from .render import Button, Screen
from .runtime import Runtime


class TerminalSession:
    def __init__(self, runtime: Runtime, output: TextIO):
        self.runtime = runtime
        self.output = output
        self.chat_key = secrets.token_hex(32)
        self.buttons: list[Button] = []
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
        if reply.edit is not None and reply.edit.buttons:
            screens.insert(0, reply.edit)
        for screen in screens:
            self._print_screen(screen)

    def _print_screen(self, screen: Screen) -> None:
        self._print("")
        self._print(screen.text)
        if screen.buttons:
            self.buttons = [button for row in screen.buttons for button in row]
            for number, button in enumerate(self.buttons, start=1):
                self._print(f"  [{number}] {button.label}")

    def _print(self, line: str) -> None:
        self.output.write(line + "\n")
        self.output.flush()

    def event_for(self, line: str) -> Event:
        text = line.strip()
        if text.isdigit() and 1 <= int(text) <= len(self.buttons) and len(text) <= 2:
            return Press(self.buttons[int(text) - 1].action)
        path = Path(text).expanduser()
        if text and len(text) < 4096 and path.is_file():
            return Upload(path.stat().st_size, _reader(path))
        if text.startswith("/") and len(text) > 1:
            return Command(text[1:].split()[0].lower())
        return Text(line.rstrip("\n"))


def _reader(path: Path):
    async def read() -> bytes:
        return path.read_bytes()

    return read


async def run_terminal(runtime: Runtime, lang: str | None, lines: TextIO, output: TextIO) -> bool:
    """Play the conversation until the report is sent or input ends; True if a report was stored."""
    session = TerminalSession(runtime, output)
    if lang:
        await session.send(Press(f"lang:{lang}"))
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
    _ = gettext_for(lang or "en")
    output.write("\n" + _("The unfinished report was not sent and has been deleted.") + "\n")
    return False
