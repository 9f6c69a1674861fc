"""End to end: a reporter completes the default flow in each language through the real PTB Application
and a fake Bot API server; staff ask for the digest and receive the tip with its cleaned photo."""

from __future__ import annotations

import io
import logging

import pytest
from PIL import Image

from bot.flows.engine import actions
from bot.i18n import gettext_for
from bot.logs import configure_logging
from bot.privacy.keys import Keys
from bot.screens import RECEIPT_DONE

from .fakebotapi import FakeBotAPI, FakeUser
from .harness import (
    RECEIPT,
    STAFF_CHAT,
    Reporter,
    asks,
    bot_settings,
    eventually,
    photo_with_gps,
    running_bot,
)

STAFF_MEMBER = FakeUser(id=5550001, first_name="Staff", username="staff_member")
DESCRIPTIONS = {
    "ru": "Учителей нашей школы отправили собирать хлопок, норма 60 кг в день.",
    "uz": "Maktabimiz o‘qituvchilarini paxta terimiga majburan jo‘natishdi, kuniga 60 kg norma.",
    "kk": "Мектебіміздің мұғалімдерін мақта теруге мәжбүрлеп жіберді, күніне 60 кг норма.",
    "en": "Teachers of our school were sent to pick cotton, quota 60 kg a day.",
}


def is_named(message, suffix: str) -> bool:
    document = message.raw.get("document") or {}
    return message.method == "sendDocument" and (document.get("file_name") or "").endswith(suffix)


async def open_questionnaire(reporter: Reporter, lang: str) -> None:
    reporter.api.send_command(reporter.user, "/start")
    picker = await reporter.wait(
        lambda m: any("lang:" in (b.get("callback_data") or "") for row in m.buttons() for b in row)
    )
    await reporter.press_and_wait(f"lang:{lang}", lambda m: m.buttons() and "begin" in str(m.reply_markup))
    assert picker.buttons() == [], "the language buttons are removed once chosen"
    quick = await reporter.press_and_wait("begin", lambda m: asks(m, "description"))  # the quick report first
    assert actions.nav("description", "full") in str(quick.reply_markup)
    await reporter.press_and_wait(actions.nav("description", "full"), lambda m: asks(m, "what"))


async def answer_first_part(reporter: Reporter) -> None:
    """what, sector, work: up to the date question."""
    await reporter.question("what")
    for option in ("harvest_mobilisation", "wages"):
        await reporter.press(actions.option("what", option))
    message, _button = reporter.holder(actions.nav("what", "done"))
    assert sum("✅" in text for text in message.button_texts()) == 2
    await reporter.press_and_wait(actions.nav("what", "done"), lambda m: asks(m, "sector"))
    await reporter.press_and_wait(actions.option("sector", "teachers"), lambda m: asks(m, "work"))
    await reporter.press_and_wait(actions.option("work", "cotton"), lambda m: asks(m, "period"))


async def describe_and_place(reporter: Reporter, description: str) -> None:
    """The description, then the region: up to the files question."""
    await reporter.say(description, lambda m: asks(m, "region"))
    await reporter.press(actions.country("region", "UZ"))
    await reporter.press_and_wait(actions.region("region", "UZ-AN"), lambda m: asks(m, "evidence"))


async def complete_tip(reporter: Reporter, lang: str, photo: bytes) -> str:
    await answer_first_part(reporter)
    _ = gettext_for(lang)
    problem = await reporter.say("soon", lambda m: m.text and "15.09.2026" in m.text and not m.buttons())
    assert problem.text == _(
        "I could not read this date. Write, for example, “yesterday”, “in September”, “since September”, "
        "“early October”, 15.09.2026 or 01.09.2026–20.10.2026, or press “Not sure”."
    )
    await reporter.question("period", after=reporter.messages().index(problem))
    await reporter.say("15.09.2026 - 20.10.2026", lambda m: asks(m, "people"))
    await reporter.say("40", lambda m: asks(m, "children"))
    await reporter.press_and_wait(actions.option("children", "yes"), lambda m: asks(m, "children_ages"))  # branch
    await reporter.press(actions.option("children_ages", "age_12_14"))
    await reporter.press_and_wait(actions.nav("children_ages", "done"), lambda m: asks(m, "children_school"))
    await reporter.press_and_wait(actions.option("children_school", "yes"), lambda m: asks(m, "ordered_by"))
    await reporter.press_and_wait(actions.option("ordered_by", "hokimiyat"), lambda m: asks(m, "description"))
    await describe_and_place(reporter, DESCRIPTIONS[lang])
    after = reporter.api.mark(reporter.chat)
    reporter.api.send_document(reporter.user, photo, "IMG_20260915_073012.jpg", "image/jpeg")
    received = await reporter.wait(lambda m: asks(m, "evidence") and "1" in (m.text or ""), after)
    assert _("Files received: {count}. Send more or press “Done”.").format(count=1) in received.text
    await reporter.press_and_wait(actions.nav("evidence", "done"), lambda m: asks(m, "danger_now"))
    review = await reporter.press_and_wait(
        actions.option("danger_now", "no"), lambda m: actions.CONFIRM in str(m.reply_markup)
    )
    assert DESCRIPTIONS[lang] in review.text
    receipt = await reporter.press_and_wait(actions.CONFIRM, lambda m: RECEIPT.search(m.text or ""))
    assert _("Thank you. Your report has been received.") in receipt.text
    return RECEIPT.search(receipt.text).group(0)


async def written_down(reporter: Reporter, lang: str) -> None:
    """The reporter confirms the receipt code; the whole conversation disappears but one line."""
    cleared = gettext_for(lang)("Chat cleared.")
    await reporter.press_and_wait(RECEIPT_DONE, lambda m: m.text == cleared)
    remaining = reporter.api.remaining_messages(reporter.chat)
    assert [m.get("text") for m in remaining] == [cleared], remaining


@pytest.mark.parametrize("lang", ["ru", "uz", "kk", "en"])
async def test_reporter_completes_the_default_flow_and_staff_get_it(api, make_settings, database_url, lang):
    settings = bot_settings(make_settings, api, database_url=database_url, staff_language=lang)
    reporter = Reporter(api, FakeUser(id=7001001, first_name="Ali", language_code=lang))
    async with running_bot(settings) as runtime:
        await open_questionnaire(reporter, lang)
        await complete_tip(reporter, lang, photo_with_gps())

        [tip] = await runtime.repository.pending_tips()
        assert tip.answers["children"] == "yes" and tip.answers["children_ages"] == ["age_12_14"]
        assert tip.answers["region"] == {"country": "UZ", "region": "UZ-AN"}
        assert tip.answers["evidence"] == ["image"] and tip.flow_id == "forced-labour"
        assert not tip.urgent

        api.send_group_text(STAFF_CHAT, STAFF_MEMBER, "/digest")
        xlsx = await api.wait_for_message(STAFF_CHAT, lambda m: is_named(m, ".xlsx"))
        staff = api.sent_to(STAFF_CHAT)
        texts = [m.text for m in staff if m.method == "sendMessage"]
        _ = gettext_for(lang)
        assert texts[0].startswith(_("📋 Digest of {date}").split("{")[0])
        assert _("New reports: {count}").format(count=1) in texts[0]
        assert DESCRIPTIONS[lang] in texts[1] and tip.short_id in texts[1]
        chart, photo = [m for m in staff if m.method == "sendPhoto"]
        assert Image.open(io.BytesIO(chart.files[0])).format == "PNG"
        assert photo.text.startswith(f"#{tip.short_id}")
        csv_file = next(m for m in staff if is_named(m, ".csv"))
        assert DESCRIPTIONS[lang].encode() in csv_file.files[0] and xlsx.files[0][:2] == b"PK"

        cleaned = Image.open(io.BytesIO(photo.files[0]))
        assert cleaned.size == (80, 60) and not cleaned.getexif()
        assert b"Canon-SERIAL-4242" not in photo.files[0]

        async def all_digested():
            return await runtime.repository.pending_tips() == []

        await eventually(all_digested)

        api.send_group_text(STAFF_CHAT, STAFF_MEMBER, "/digest")
        nothing = await api.wait_for_message(STAFF_CHAT, lambda m: m.text == _("No new reports since the last digest."))
        assert nothing


async def test_no_identifier_reaches_database_or_logs(api, make_settings, tmp_path):
    """Distinctive identifiers of the reporter must not appear in the SQLite file or the log output."""
    user = FakeUser(
        id=987654321777,
        first_name="Zulfiyaxon",
        last_name="Qodirova-Unique",
        username="zulfiya_secret_handle",
        language_code="uz",
    )
    database = tmp_path / "leak.db"
    settings = bot_settings(make_settings, api, database_url=f"sqlite+aiosqlite:///{database}", log_level="DEBUG")
    log_output = io.StringIO()
    configure_logging("DEBUG", (FakeBotAPI.token,), stream=log_output)
    try:
        reporter = Reporter(api, user)
        async with running_bot(settings) as runtime:
            await open_questionnaire(reporter, "uz")
            await complete_tip(reporter, "uz", photo_with_gps())
            api.send_group_text(STAFF_CHAT, STAFF_MEMBER, "/digest")
            await api.wait_for_message(STAFF_CHAT, lambda m: m.method == "sendPhoto")
            await written_down(reporter, "uz")
            chat_key = Keys(b"k" * 40).chat_key(user.id)
            assert await runtime.repository.load_draft(chat_key) is None
    finally:
        logging.getLogger().handlers.clear()
    stored = b"".join(path.read_bytes() for path in tmp_path.glob("leak.db*"))
    logs = log_output.getvalue()
    assert "getUpdates" in logs or "Application" in logs or logs, "logs were captured"
    for identifier in (str(user.id), user.username, user.first_name, user.last_name, FakeBotAPI.token):
        assert identifier.encode() not in stored, identifier
        assert identifier not in logs, identifier
    assert DESCRIPTIONS["uz"].encode() not in stored  # the answers are encrypted too


async def test_restart_mid_questionnaire_continues_the_same_draft(api, make_settings, database_url):
    settings = bot_settings(make_settings, api, database_url=database_url)
    reporter = Reporter(api, FakeUser(id=7002002, first_name="Gulnora", language_code="ru"))
    async with running_bot(settings):
        await open_questionnaire(reporter, "ru")
        await answer_first_part(reporter)
    async with running_bot(settings) as runtime:
        await reporter.say("01.10.2026", lambda m: asks(m, "people"))
        await reporter.press_and_wait(actions.nav("people", "skip"), lambda m: asks(m, "children"))
        await reporter.press_and_wait(actions.option("children", "no"), lambda m: asks(m, "ordered_by"))
        await reporter.press_and_wait(actions.option("ordered_by", "unknown"), lambda m: asks(m, "description"))
        await describe_and_place(reporter, DESCRIPTIONS["ru"])
        await reporter.press_and_wait(actions.nav("evidence", "skip"), lambda m: asks(m, "danger_now"))
        await reporter.press_and_wait(
            actions.option("danger_now", "yes"), lambda m: actions.CONFIRM in str(m.reply_markup)
        )
        await reporter.press_and_wait(actions.CONFIRM, lambda m: RECEIPT.search(m.text or ""))
        [tip] = await runtime.repository.pending_tips()
        assert tip.answers["what"] == ["harvest_mobilisation", "wages"]  # answered before the restart
        assert tip.answers["period"] == {"start": "2026-10-01", "end": "2026-10-01", "words": "01.10.2026"}
        assert tip.urgent and tip.files == []


async def reach_evidence(reporter: Reporter, lang: str, description: str) -> None:
    """From the first question to the files question, the shortest way."""
    await answer_first_part(reporter)
    today = {"ru": "сегодня", "uz": "bugun", "kk": "бүгін", "en": "today"}[lang]
    await reporter.say(today, lambda m: asks(m, "people"))
    await reporter.press_and_wait(actions.nav("people", "skip"), lambda m: asks(m, "children"))
    await reporter.press_and_wait(actions.option("children", "no"), lambda m: asks(m, "ordered_by"))
    await reporter.press_and_wait(actions.option("ordered_by", "employer"), lambda m: asks(m, "description"))
    await describe_and_place(reporter, description)
