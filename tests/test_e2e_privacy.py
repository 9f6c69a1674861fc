"""End to end: a reporter with distinctive identifiers sends text, a contact, a photo, a PDF and a voice
note. Afterwards nothing on the server names them or holds their words in the clear, staff get only
sanitized files, and the reporter's chat has been emptied through deleteMessage(s)."""

from __future__ import annotations

import io
import logging
import subprocess
from pathlib import Path

import imageio_ffmpeg
import pikepdf
from PIL import Image

from bot.flows.engine import actions
from bot.i18n import gettext_for
from bot.logs import configure_logging
from bot.screens import RECEIPT_DONE

from .fakebotapi import FakeBotAPI, FakeUser
from .harness import STAFF_CHAT, Reporter, asks, bot_settings, photo_with_gps, running_bot
from .test_e2e_reporter import STAFF_MEMBER, answer_first_part, describe_and_place, open_questionnaire
from .test_pdf import _dirty_pdf

REPORTER = FakeUser(
    id=983472615509,
    first_name="Gulchehra",
    last_name="Abdurahmonova-Xyz",
    username="gulchehra_xyz_77",
    language_code="uz",
)
PHONE = "+998901234567"
STORY = "Maktab direktori bizni paxtaga haydadi, kunlik norma 70 kilogramm."
PLACE = "Qo‘shtepa tumani, 5-maktab"


def voice_note(tmp_path: Path) -> bytes:
    path = tmp_path / "voice.ogg"
    command = [
        imageio_ffmpeg.get_ffmpeg_exe(),
        "-nostdin",
        "-loglevel",
        "error",
        "-f",
        "lavfi",
        "-i",
        "sine=frequency=300:duration=3",
        "-metadata",
        "artist=Gulchehra Abdurahmonova-Xyz",
        "-c:a",
        "libopus",
        str(path),
    ]
    subprocess.run(command, check=True, capture_output=True, timeout=60)
    return path.read_bytes()


async def send_file(reporter: Reporter, count: int, send) -> None:
    after = reporter.api.mark(reporter.chat)
    send()
    await reporter.wait(lambda m: asks(m, "evidence") and str(count) in (m.text or ""), after)


async def test_nothing_on_the_server_or_the_phone_identifies_the_reporter(api, make_settings, tmp_path):
    data_dir = tmp_path / "data"
    settings = bot_settings(make_settings, api, log_level="DEBUG")
    log_output = io.StringIO()
    configure_logging("DEBUG", (FakeBotAPI.token,), stream=log_output)
    reporter = Reporter(api, REPORTER)
    _ = gettext_for("uz")
    try:
        async with running_bot(settings):
            await open_questionnaire(reporter, "uz")
            after = api.mark(reporter.chat)
            api.send_contact(reporter.user, PHONE)
            await reporter.question("what", after)
            await answer_first_part(reporter)
            await reporter.say("bugun", lambda m: asks(m, "people"))
            await reporter.say("120", lambda m: asks(m, "children"))
            await reporter.press_and_wait(actions.option("children", "no"), lambda m: asks(m, "ordered_by"))
            await reporter.press_and_wait(
                actions.option("ordered_by", "education_admin"), lambda m: asks(m, "description")
            )
            await describe_and_place(reporter, f"{STORY} {PLACE}")
            await send_file(reporter, 1, lambda: api.send_photo(reporter.user, photo_with_gps()))
            await send_file(
                reporter, 2, lambda: api.send_document(reporter.user, _dirty_pdf(), "buyruq.pdf", "application/pdf")
            )
            after = api.mark(reporter.chat)
            api.queue_update({"message": voice_message(api, reporter.user, voice_note(tmp_path))})
            notice = await reporter.wait(
                lambda m: (m.text or "") == _("Your voice was changed so that it is harder to recognise."), after
            )
            assert notice
            await reporter.question("evidence", after)
            await reporter.press_and_wait(actions.nav("evidence", "done"), lambda m: asks(m, "danger_now"))
            await reporter.press_and_wait(
                actions.option("danger_now", "no"), lambda m: actions.CONFIRM in str(m.reply_markup)
            )
            await reporter.press_and_wait(actions.CONFIRM, lambda m: RECEIPT_DONE in str(m.reply_markup))
            await reporter.press_and_wait(RECEIPT_DONE, lambda m: m.text == _("Chat cleared."))

            api.send_group_text(STAFF_CHAT, STAFF_MEMBER, "/digest")
            await api.wait_for_message(STAFF_CHAT, lambda m: m.method == "sendVoice")
    finally:
        logging.getLogger().handlers.clear()

    # the phone: one neutral line is all that is left, removed through the Bot API's delete methods
    assert [m.get("text") for m in api.remaining_messages(reporter.chat)] == [_("Chat cleared.")]
    assert api.calls_to("deleteMessages") or api.calls_to("deleteMessage")

    # the staff chat: sanitized files only
    staff = api.sent_to(STAFF_CHAT)
    photo = next(m for m in staff if m.method in ("sendPhoto", "sendMediaGroup") and m.files)
    assert not Image.open(io.BytesIO(photo.files[0])).getexif()
    document = next(m for m in staff if m.method == "sendDocument" or (m.files and m.files[0][:5] == b"%PDF-"))
    with pikepdf.open(io.BytesIO(document.files[0])) as pdf:
        assert not pdf.docinfo and "/Metadata" not in pdf.Root
    voice = next(m for m in staff if m.method == "sendVoice")
    assert b"Abdurahmonova" not in voice.files[0]

    # the server: database (with WAL), every file in the data dir, and the logs
    stored = b"".join(path.read_bytes() for path in sorted(data_dir.rglob("*")) if path.is_file())
    logs = log_output.getvalue()
    identifiers = [
        str(REPORTER.id),
        REPORTER.username,
        REPORTER.first_name,
        REPORTER.last_name,
        PHONE,
        PHONE[1:],
        FakeBotAPI.token,
    ]
    for secret in [*identifiers, STORY, PLACE, "Qo‘shtepa"]:
        assert secret.encode() not in stored, secret
        assert secret not in logs, secret
    assert any(path.name.endswith("-wal") for path in data_dir.iterdir()) or (data_dir / "tipbot.db").exists()


def voice_message(api: FakeBotAPI, user: FakeUser, data: bytes) -> dict:
    """A Telegram voice message (the fake has no helper for it): a document message turned into a voice."""
    update = api.send_document(user, data, "voice.ogg", "audio/ogg")
    message = update["message"]
    document = message.pop("document")
    message["voice"] = {key: document[key] for key in ("file_id", "file_unique_id", "file_size")} | {
        "duration": 3,
        "mime_type": "audio/ogg",
    }
    return message
