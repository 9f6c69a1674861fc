"""End to end for admins: a new questionnaire version is uploaded, previewed in Kazakh and published while a
reporter is in the middle of the old one; rollback; /staff; strangers sending flow files change nothing."""

from __future__ import annotations

import yaml

from bot.flows.engine import actions
from bot.flows.export_yaml import flow_to_raw
from bot.i18n import gettext_for
from bot.screens import help_screen
from bot.telegram.admin import ACTION

from .fakebotapi import FakeUser
from .harness import RECEIPT, STAFF_CHAT, Reporter, asks, bot_settings, running_bot
from .test_e2e_reporter import answer_first_part, describe_and_place, open_questionnaire

ADMIN = FakeUser(id=4242, first_name="Admin", language_code="kk")
T = {
    "ru": "Сколько пришлось заплатить?",
    "uz": "Qancha to‘lashga majbur bo‘ldingiz?",
    "kk": "Қанша төлеуге мәжбүр болдыңыз?",
    "en": "How much did you have to pay?",
    "tk": "Näçe tölemeli boldyňyz?",
    "uz_Cyrl": "Қанча тўлашга мажбур бўлдингиз?",
}


def new_version(flow) -> bytes:
    raw = flow_to_raw(flow)
    position = [q["id"] for q in raw["questions"]].index("people") + 1
    raw["questions"].insert(position, {"id": "payment", "type": "number", "required": False, "min": 0, "text": T})
    return yaml.safe_dump(raw, allow_unicode=True, sort_keys=False).encode()


async def finish(reporter: Reporter, after_people: list) -> None:
    """From the people question to the receipt, skipping what can be skipped."""
    await reporter.press_and_wait(actions.nav("people", "skip"), lambda m: asks(m, after_people[0]))
    for question in after_people[:-1]:
        await reporter.press_and_wait(actions.nav(question, "skip"), lambda m: True)
    await reporter.press_and_wait(actions.option("children", "no"), lambda m: asks(m, "ordered_by"))
    await reporter.press_and_wait(actions.option("ordered_by", "unknown"), lambda m: asks(m, "description"))
    await describe_and_place(reporter, "Hokimiyat buyrug‘i.")
    await reporter.press_and_wait(actions.nav("evidence", "skip"), lambda m: asks(m, "danger_now"))
    await reporter.press_and_wait(actions.option("danger_now", "no"), lambda m: actions.CONFIRM in str(m.reply_markup))
    await reporter.press_and_wait(actions.CONFIRM, lambda m: RECEIPT.search(m.text or ""))


async def test_upload_preview_publish_while_reporting_and_rollback(api, make_settings):
    settings = bot_settings(make_settings, api, admin_ids=str(ADMIN.id), staff_language="kk")
    early = Reporter(api, FakeUser(id=7700001, first_name="Early", language_code="uz"))
    late = Reporter(api, FakeUser(id=7700002, first_name="Late", language_code="uz"))
    admin = Reporter(api, ADMIN)
    kk = gettext_for("kk")
    async with running_bot(settings) as runtime:
        old = runtime.flows.active
        await open_questionnaire(early, "uz")
        await answer_first_part(early)
        await early.say("bugun", lambda m: asks(m, "people"))

        after = api.mark(admin.chat)
        api.send_document(admin.user, new_version(old), "forced_labour_v2.yaml", "application/x-yaml")
        summary = await admin.wait(lambda m: bool(m.buttons()), after)
        assert summary.text.startswith(
            kk("Questionnaire “{title}” ({id}): valid.").format(title=old.text(old.title, "kk"), id=old.id)
        )
        assert kk("new questions: {list}").format(list="payment") in summary.text
        preview = await admin.press_and_wait(
            f"{ACTION}preview:{summary_token(summary)}:kk", lambda m: asks(m, "description")
        )
        assert preview.text.startswith(old.text(old.question("description").text, "kk"))  # the quick report first
        await admin.press(f"{ACTION}publish:{summary_token(summary)}")
        assert runtime.flows.active.version == 2
        assert summary.text == kk(
            "Published: {id} version {version}. Reports already begun finish on the version they started with."
        ).format(id="forced-labour", version=2)

        await finish(early, ["children"])  # the early reporter never sees the new question
        await open_questionnaire(late, "uz")
        await answer_first_part(late)
        await late.say("bugun", lambda m: asks(m, "people"))
        await finish(late, ["payment", "children"])

        tips = sorted(await runtime.repository.pending_tips(), key=lambda tip: tip.flow_version)
        assert [(tip.flow_id, tip.flow_version) for tip in tips] == [("forced-labour", 1), ("forced-labour", 2)]
        hashes = [runtime.flows.hash_of(runtime.flows.get("forced-labour", version)) for version in (1, 2)]
        assert [tip.flow_hash for tip in tips] == hashes and hashes[0] != hashes[1]

        after = api.mark(admin.chat)
        api.send_command(admin.user, "/flows")
        overview = await admin.wait(lambda m: f"{ACTION}on:forced-labour:1" in str(m.reply_markup), after)
        assert "v2 ●" in overview.text
        await admin.press(f"{ACTION}on:forced-labour:1")
        assert runtime.flows.active.version == 1 and runtime.flows.hash_of(runtime.flows.active)
        actions_logged = {action for _s, action, _t, _at in await runtime.repository.audit_entries()}
        assert {
            "flow-upload:forced-labour",
            "flow-publish:forced-labour:v2",
            "flow-on:forced-labour:v1",
        } <= actions_logged


def summary_token(message) -> str:
    data = [b["callback_data"] for row in message.buttons() for b in row if "publish:" in b["callback_data"]]
    return data[0].rsplit(":", 1)[1]


async def test_strangers_sending_flow_files_change_nothing(api, make_settings):
    settings = bot_settings(make_settings, api, admin_ids=str(ADMIN.id))
    stranger = FakeUser(id=7700009, first_name="Nosy", language_code="en")
    async with running_bot(settings) as runtime:
        before = [(f.id, f.version) for f in runtime.flows.versions("forced-labour")]
        api.send_document(stranger, new_version(runtime.flows.active), "flow.yaml", "application/x-yaml")
        reply = await api.wait_for_message(stranger.id)
        assert "valid" not in reply.text and not any("flowadm" in str(b) for b in reply.buttons())
        api.send_text(stranger, "/flows")
        help_text = await api.wait_for_message(stranger.id, after=1)
        assert help_text.text == help_screen("en", discreet=True).text
        api.send_text(stranger, "/staff add admin 7700009")
        await api.wait_for_message(stranger.id, after=2)
        assert not await runtime.is_admin(stranger.id)
        assert [(f.id, f.version) for f in runtime.flows.versions("forced-labour")] == before
        assert await runtime.repository.audit_entries() == []


async def test_admins_manage_staff_chats_and_admins(api, make_settings):
    settings = bot_settings(make_settings, api, admin_ids=str(ADMIN.id), staff_language="en")
    admin = Reporter(api, ADMIN)
    en = gettext_for("en")
    async with running_bot(settings) as runtime:
        await admin.say("/staff add chat -100777", lambda m: "-100777" in (m.text or ""))
        await admin.say("/staff add admin 7700010", lambda m: "7700010" in (m.text or ""))
        assert -100777 in await runtime.staff_chat_ids() and await runtime.is_admin(7700010)
        refused = await admin.say(f"/staff remove chat {STAFF_CHAT}", lambda m: True)
        assert refused.text == en("{id} comes from the settings and can only be removed there.").format(id=STAFF_CHAT)
        await admin.say("/staff remove admin 7700010", lambda m: en("Admins: {list}").split("{")[0] in (m.text or ""))
        assert not await runtime.is_admin(7700010)


async def test_reporters_choose_when_several_questionnaires_are_active(api, make_settings):
    settings = bot_settings(make_settings, api, admin_ids=str(ADMIN.id), staff_language="en")
    admin = Reporter(api, ADMIN)
    reporter = Reporter(api, FakeUser(id=7700003, first_name="Picker", language_code="ru"))
    wages = {
        "id": "wages-2026",
        "version": 1,
        "languages": ["ru", "uz", "kk", "en", "tk", "uz_Cyrl"],
        "title": {
            "ru": "Зарплаты и долги",
            "uz": "Ish haqi va qarzlar",
            "kk": "Жалақы мен қарыздар",
            "en": "Wages and debts",
            "tk": "Aýlyk we bergiler",
            "uz_Cyrl": "Иш ҳақи ва қарзлар",
        },
        "questions": [{"id": "story", "type": "text", "text": T}],
    }
    async with running_bot(settings) as runtime:
        after = api.mark(admin.chat)
        api.send_document(admin.user, yaml.safe_dump(wages, allow_unicode=True).encode(), "wages.yaml", "text/yaml")
        summary = await admin.wait(lambda m: bool(m.buttons()), after)
        tips_before = await runtime.repository.count_tips()
        await admin.press_and_wait(
            f"{ACTION}preview:{summary_token(summary)}:en",
            lambda m: asks(m, "story") or (m.text or "").startswith(T["en"]),
        )
        await admin.say("Only trying it out", lambda m: actions.CONFIRM in str(m.reply_markup))
        done = await admin.press_and_wait(actions.CONFIRM, lambda m: (m.text or "").startswith("Preview"))
        assert done.text == gettext_for("en")("Preview finished: nothing was stored.")
        assert await runtime.repository.count_tips() == tips_before
        await admin.press(f"{ACTION}publish:{summary_token(summary)}")
        assert {flow.id for flow in runtime.flows.active_flows()} == {"forced-labour", "wages-2026"}

        api.send_command(reporter.user, "/start")
        await reporter.wait(lambda m: bool(m.buttons()))
        await reporter.press_and_wait("lang:ru", lambda m: "begin" in str(m.reply_markup))
        picker = await reporter.press_and_wait("begin", lambda m: "flow:" in str(m.reply_markup))
        assert picker.text == gettext_for("ru")("What is your report about?")
        assert picker.button_texts()[0] == runtime.flows.active.text(runtime.flows.active.title, "ru")  # default first
        question = await reporter.press_and_wait("flow:wages-2026", lambda m: bool(m.text))
        assert question.text.startswith(T["ru"])
