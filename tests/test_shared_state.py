"""Two instances of the bot on one database (SQLite file, and PostgreSQL when configured): what a conversation
or an admin left on one is found by the other. Follow-ups opened with a receipt code, uploads waiting for a
decision and their previews, and questionnaires published elsewhere (another instance, or `tipbot flows`)."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
import yaml
from sqlalchemy import select

from bot import callbacks, flow_admin, follow_up
from bot.flow_admin import read_flow_file
from bot.flows.engine import Press, Text
from bot.flows.export_yaml import flow_to_raw
from bot.flows.model import Flow
from bot.i18n import gettext_for
from bot.runtime import Runtime
from bot.screens import CLEARED
from bot.session import Mode
from bot.telegram.admin import flows_overview
from storage import uploads
from storage.models import PendingUpload

from .cli import tipbot
from .test_conversation import Chat, actions_of, texts

_ = gettext_for("en")
ADMIN = 4242
STORY = "Teachers were sent to the cotton fields."


@pytest.fixture
async def instances(make_settings, database_url):
    settings = make_settings(database_url=database_url)
    first = await Runtime.open(settings)
    second = await Runtime.open(settings)
    yield first, second
    await second.close()
    await first.close()


def new_version(flow: Flow, question: str = "payment") -> bytes:
    """The flow as a file with one more question, as an admin would upload it."""
    raw = flow_to_raw(flow)
    texts = {lang: f"How much did you pay ({question})?" for lang in flow.languages}
    raw["questions"].append({"id": question, "type": "number", "required": False, "min": 0, "text": texts})
    return yaml.safe_dump(raw, allow_unicode=True, sort_keys=False).encode()


async def test_a_follow_up_opened_on_one_instance_continues_on_the_other(instances):
    first, second = instances
    reporter = Chat(first, key="sender")
    await reporter.welcome()
    code = await reporter.send_report()
    tip_id = (await first.repository.list_tips(None))[0].id

    chat = Chat(first, key="checker")
    await chat.welcome()
    await chat.send(Text(code))
    chat.runtime = second  # the load balancer sends the next updates elsewhere
    prompt = await chat.send(Press(follow_up.ANSWER))
    assert await chat.mode() is Mode.ANSWERING and follow_up.DONE in actions_of(prompt)
    assert (await chat.send(Text("School 12"))).notify_staff
    chat.runtime = first
    assert (await chat.send(Text("in Andijan district"))).notify_staff
    exchanges = await first.records.exchanges(tip_id)
    assert [exchange.text for exchange in exchanges] == ["School 12", "in Andijan district"]
    chat.runtime = second
    done = await chat.send(Press(follow_up.DONE))
    assert texts(done) == _(CLEARED) and await chat.session() is None


async def test_an_upload_waits_in_the_database_and_its_preview_moves_between_instances(instances):
    first, second = instances
    upload = read_flow_file("v2.yaml", new_version(first.flows.active))
    token = await first.flow_admin.keep(ADMIN, upload)
    async with first.engine.connect() as connection:
        (row,) = (await connection.execute(select(PendingUpload))).all()
    assert row.token == token and b"forced-labour" not in row.data and b"payment" not in row.data  # encrypted

    chat = Chat(first, key="admin-chat")
    preview = first.flows.add_preview(upload.flow, token)
    await first.conversation.start_preview(chat.key, preview, "en")
    chat.runtime = second  # has never seen this upload
    question = (await chat.session()).draft.current
    reply = await chat.send(Text(STORY))
    session = await chat.session()
    assert session.preview and session.draft.flow_version == preview.version < 0
    assert session.draft.answers[question] == STORY and reply.messages

    pending = await second.flow_admin.pending(token)
    assert pending is not None and pending.flow.question("payment") is not None
    published = await second.flow_admin.publish(pending, token=token)
    assert published.version == 2
    assert await first.flow_admin.publish(upload, token=token) is None  # the second press, elsewhere
    assert await first.flow_admin.discard(token) is None
    assert [flow.version for flow in second.flows.versions("forced-labour")] == [1, 2]
    assert [version for _id, version, _on in await first.flow_admin.versions.index()] == [1, 2]

    chat.runtime = first  # the upload is published: its preview ends on every instance
    ended = await chat.send(Text("more"))
    assert _("The questionnaire has been updated since you started. Please start again.") in texts(ended)


async def test_an_upload_discarded_on_one_instance_cannot_be_published_on_the_other(instances):
    first, second = instances
    upload = read_flow_file("v2.yaml", new_version(first.flows.active))
    token = await first.flow_admin.keep(ADMIN, upload)
    discarded = await second.flow_admin.discard(token)
    assert discarded is not None and discarded.flow == upload.flow
    assert await first.flow_admin.discard(token) is None
    assert await first.flow_admin.pending(token) is None
    assert await first.flow_admin.publish(upload, token=token) is None
    assert [version for _id, version, _on in await second.flow_admin.versions.index()] == [1]


async def test_an_upload_nobody_decided_on_expires_after_a_day(instances):
    first, second = instances
    upload = read_flow_file("v2.yaml", new_version(first.flows.active))
    token = await first.flow_admin.keep(ADMIN, upload)
    kept = await second.flow_admin.uploads.get(token, second.now())
    assert kept.uploader == ADMIN and kept.raw == upload.raw
    later = first.now() + uploads.LIFETIME + timedelta(hours=1)
    assert await second.flow_admin.uploads.get(token, later) is None  # expired, even before it is deleted
    assert await second.flow_admin.uploads.expire(first.now()) == 0
    assert await second.flow_admin.uploads.expire(later) == 1
    assert await first.flow_admin.pending(token) is None


async def test_a_flow_published_elsewhere_is_used_for_the_next_report_within_seconds(instances):
    first, second = instances
    upload = read_flow_file("v2.yaml", new_version(second.flows.active))
    await second.flow_admin.publish(upload)
    await asyncio.sleep(flow_admin.FRESH_FOR)
    chat = Chat(first)
    await chat.welcome()
    await chat.send(Press(callbacks.BEGIN))
    assert (await chat.session()).draft.flow_version == 2
    hashes = [runtime.flows.hash_of(runtime.flows.get("forced-labour", 2)) for runtime in (first, second)]
    assert hashes[0] == hashes[1] is not None  # the tip will record the same content hash on either


async def test_a_draft_begun_on_a_version_this_instance_never_loaded_continues(instances):
    first, second = instances
    await second.flow_admin.publish(read_flow_file("v2.yaml", new_version(second.flows.active)))
    chat = Chat(second)
    await chat.welcome()
    await chat.send(Press(callbacks.BEGIN))
    session = await chat.session()
    question = session.draft.current
    assert session.draft.flow_version == 2 and first.flows.get("forced-labour", 2) is None

    chat.runtime = first
    reply = await chat.send(Text(STORY))
    session = await chat.session()
    assert session.draft.flow_version == 2 and session.draft.answers[question] == STORY
    assert session.draft.current != question and reply.messages
    assert first.flows.get("forced-labour", 2) is not None


async def test_the_published_versions_are_looked_at_once_every_few_seconds(instances):
    first, _second = instances
    looks = 0
    index = first.flow_admin.versions.index

    async def counted():
        nonlocal looks
        looks += 1
        return await index()

    first.flow_admin.versions.index = counted
    await asyncio.sleep(flow_admin.FRESH_FOR)
    await asyncio.gather(*(first.flows.fresh() for _chat in range(50)))  # conversations starting together
    for _chat in range(50):
        await first.flows.fresh()
    assert looks == 1


async def test_admins_see_changes_made_elsewhere_in_the_list(instances):
    first, second = instances
    raw = flow_to_raw(second.flows.active)
    raw["id"] = "wages-2026"
    await second.flow_admin.publish(read_flow_file("wages.yaml", yaml.safe_dump(raw, allow_unicode=True).encode()))
    await second.flow_admin.set_default("wages-2026")
    text, _buttons = await flows_overview(first, "en")
    listed = next(line for line in text.splitlines() if "(wages-2026)" in line)
    assert listed.startswith("★ ● ") and listed.endswith(": v1 ●")
    assert first.flows.default_id == "wages-2026" and first.flows.active.id == "wages-2026"
    assert await first.flow_admin.deactivate("forced-labour")  # knows there is another active one
    assert [flow.id for flow in second.flows.active_flows()] == ["wages-2026", "forced-labour"]  # not looked yet
    await second.flow_admin.refresh(force=True)
    assert [flow.id for flow in second.flows.active_flows()] == ["wages-2026"]


async def test_a_flow_published_from_the_command_line_reaches_a_running_bot(instances, tmp_path, database_url):
    first, _second = instances
    path = tmp_path / "v2.yaml"
    path.write_bytes(new_version(first.flows.active))
    env = {"TIPBOT_SECRET_KEY": "k" * 40, "TIPBOT_DATABASE_URL": database_url}
    imported = await asyncio.to_thread(tipbot, "flows", "import", str(path), "--publish", cwd=tmp_path, env=env)
    assert imported.stdout.strip() == "forced-labour version 2 stored (active)", imported.stderr
    await asyncio.sleep(flow_admin.FRESH_FOR)
    chat = Chat(first)
    await chat.welcome()
    await chat.send(Press(callbacks.BEGIN))
    assert (await chat.session()).draft.flow_version == 2
