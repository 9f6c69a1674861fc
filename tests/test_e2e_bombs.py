"""Hostile files: decompression bombs are refused within the sandbox's limits, with a clear message, while
another reporter's conversation goes on normally."""

from __future__ import annotations

import asyncio
import time

from bot.privacy.images import detect_image_type
from bot.screens import file_refusal

from .fakebotapi import FakeUser
from .harness import Reporter, asks, bot_settings, photo_with_gps, running_bot
from .test_e2e_reporter import complete_tip, open_questionnaire, reach_evidence
from .test_images import _png_header_only
from .test_office import members, minimal_docx
from .test_pdf import _pdf_with_streams, _zero_bomb


def zip_bomb_docx() -> bytes:
    """A valid DOCX with one member of 300 MB of zeros (about 300 kB compressed)."""
    import io
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        for name, content in members(minimal_docx()).items():
            archive.writestr(name, content)
        with archive.open(zipfile.ZipInfo("word/media/zeros.bin"), "w") as member:
            for _ in range(300):
                member.write(bytes(1 << 20))
    return buffer.getvalue()


def pdf_stream_bomb() -> bytes:
    import pikepdf

    return _pdf_with_streams(_zero_bomb(1 << 30), pikepdf.Name.FlateDecode)  # 1 GB from about 1 MB


async def test_bombs_are_refused_while_another_reporter_finishes(api, make_settings):
    bombs = [
        ("huge.png", _png_header_only(20_000, 20_000), "image/png"),
        ("bomb.docx", zip_bomb_docx(), "application/vnd.openxmlformats-officedocument.wordprocessingml.document"),
        ("bomb.pdf", pdf_stream_bomb(), "application/pdf"),
    ]
    assert detect_image_type(bombs[0][1]) == "image/png"
    settings = bot_settings(make_settings, api)
    attacker = Reporter(api, FakeUser(id=7500001, first_name="Attacker", language_code="ru"))
    honest = Reporter(api, FakeUser(id=7500002, first_name="Honest", language_code="en"))
    too_large = file_refusal("too_large", "ru", settings.max_file_bytes)
    async with running_bot(settings) as runtime:
        await open_questionnaire(attacker, "ru")
        await reach_evidence(attacker, "ru", "Проверка файлов.")
        await open_questionnaire(honest, "en")

        async def attack() -> list[float]:
            timings = []
            for name, data, mime in bombs:
                after = api.mark(attacker.chat)
                started = time.monotonic()
                api.send_document(attacker.user, data, name, mime)
                await attacker.wait(lambda m: m.text == too_large, after)
                await attacker.question("evidence", after)  # and the question again
                timings.append(time.monotonic() - started)
            return timings

        timings, _receipt = await asyncio.gather(attack(), complete_tip(honest, "en", photo_with_gps()))
        assert max(timings) < 35, timings  # the sandbox's 30 s wall clock is the outer bound
        [tip] = await runtime.repository.pending_tips()
        assert tip.files and tip.files[0].mime == "image/jpeg"
        assert asks(api.sent_to(attacker.chat)[-1], "evidence"), "the attacker's conversation goes on"


async def test_a_file_over_the_size_limit_is_refused_without_downloading_it(api, make_settings):
    settings = bot_settings(make_settings, api, max_file_mb=1)
    reporter = Reporter(api, FakeUser(id=7500003, first_name="Big", language_code="kk"))
    async with running_bot(settings):
        await open_questionnaire(reporter, "kk")
        await reach_evidence(reporter, "kk", "Үлкен файл.")
        after = api.mark(reporter.chat)
        api.send_document(reporter.user, photo_with_gps() + bytes(1_500_000), "video.jpg", "image/jpeg")
        refusal = await reporter.wait(lambda m: not m.buttons(), after)
        assert refusal.text == file_refusal("too_large", "kk", settings.max_file_bytes)
        assert "1 мегабайтқа дейінгі файлдар" in refusal.text
        assert api.calls_to("getFile") == []
