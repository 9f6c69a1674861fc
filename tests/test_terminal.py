"""`tipbot try` completes a report in the terminal with piped input, as an admin without a token would."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from bot.i18n import gettext_for

from .cli import tipbot
from .harness import photo_with_gps


def run_try(tmp_path: Path, lang: str, lines: list[str]) -> subprocess.CompletedProcess:
    return tipbot("try", "--lang", lang, cwd=tmp_path, stdin="\n".join(lines) + "\n")


def test_try_in_uzbek_completes_a_report(tmp_path):
    photo = tmp_path / "buyruq.jpg"
    photo.write_bytes(photo_with_gps())
    answers = [
        "1",  # Hisobot yuborishni boshlash (start)
        "1",
        "5",
        "16",  # what: harvest + wages, Tayyor
        "1",  # sector: teachers
        "1",  # work: cotton
        "bugun",  # period: today
        "35",  # people
        "2",  # children: no
        "1",  # ordered_by: hokimiyat
        "Hokimiyat buyrug‘i bilan o‘qituvchilar paxta terimiga chiqarildi.",
        "1",  # region: O‘zbekiston
        "1",  # first region in the list
        str(photo),  # evidence: a photo by path
        "2",  # Tayyor ([1] Back; Skip gave way to Done once the photo arrived)
        "2",  # danger now: no
        "1",  # send
    ]
    result = run_try(tmp_path, "uz", answers)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert re.search(r"\d{4} \d{4} \d{4} \d{4}", result.stdout)
    assert "Hokimiyat buyrug‘i bilan" in result.stdout  # shown on the review screen
    received = gettext_for("uz")("Files received: {count}. Send more or press “Done”.").format(count=1)
    assert received in result.stdout
    assert (tmp_path / "data" / "tipbot.db").exists()


def test_try_ends_cleanly_when_input_stops(tmp_path):
    result = run_try(tmp_path, "kk", ["1", "бірдеңе"])
    assert result.returncode == 1
    assert "Traceback" not in result.stderr


def test_run_without_token_explains_and_starts_the_terminal_questionnaire(tmp_path):
    result = tipbot("run", cwd=tmp_path)
    assert "TIPBOT_TOKEN is not set" in result.stderr and "@BotFather" in result.stderr
    assert "Выберите язык" in result.stdout and "Choose your language" in result.stdout
    assert "Traceback" not in result.stderr
