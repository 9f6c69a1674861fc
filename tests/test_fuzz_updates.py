"""Updates of every kind Telegram can send, with any optional field left out, through the real Application and
the fake Bot API server: no exception gets out of a handler, every button press is answered, and the bot says
nothing in a group, supergroup or channel that is not a staff chat. Then the failures such fuzzing found, one by
one, as people meet them.

The fuzzing hands each update to `Application.process_update`, as the updater and the webhook do after
reading it, so that kinds the bot does not ask Telegram for (ALLOWED_UPDATES) arrive too: a fake or a future
server may send them. The bot and its database live for the whole run, so later updates meet conversations
earlier ones began."""

from __future__ import annotations

import copy
import itertools
import logging
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from telegram import Update

from bot import callbacks
from bot.flows.engine import actions
from bot.i18n import LANGUAGE_NAMES, gettext_for
from bot.runtime import Runtime
from bot.screens import file_refusal
from bot.telegram.app import build_application
from bot.telegram.staff import STAFF_COMMANDS

from .fakebotapi import BOT_FIRST_NAME, BOT_ID, BOT_USERNAME, FakeBotAPI, FakeUser
from .harness import STAFF_CHAT, Reporter, asks, bot_settings, handled_so_far, running_bot
from .test_callbacks import ALL_BUTTONS, GARBAGE
from .test_e2e_reporter import open_questionnaire, reach_evidence

REPORTER = FakeUser(id=7900001, first_name="Dilnoza", language_code="uz")
STRANGER = FakeUser(id=7900002, first_name="Nosy", language_code="ru")
STAFF_MEMBER = FakeUser(id=7900003, first_name="Staff", language_code="en")
ADMIN = FakeUser(id=4242, first_name="Admin", language_code="en")
PEOPLE = (REPORTER, STRANGER, STAFF_MEMBER, ADMIN)
BOT = {"id": BOT_ID, "is_bot": True, "first_name": BOT_FIRST_NAME, "username": BOT_USERNAME}

GROUP = {"id": -555, "type": "group", "title": "Neighbours"}
SUPERGROUP = {"id": -100555, "type": "supergroup", "title": "Market"}
CHANNEL = {"id": -100777, "type": "channel", "title": "News"}
SILENT = {GROUP["id"], SUPERGROUP["id"], CHANNEL["id"]}
"""Chats the bot was added to that are not staff chats: it must say nothing there."""
STAFF = {"id": STAFF_CHAT, "type": "supergroup", "title": "Staff"}
PRIVATE = {person.id: person.private_chat() for person in PEOPLE}
OWNER = {person.id: person for person in PEOPLE}
"""Whose private chat it is."""
chats = st.one_of(
    st.sampled_from(list(PRIVATE.values())),
    st.just(STAFF),
    st.sampled_from([GROUP, SUPERGROUP, CHANNEL]),
)
"""A private chat, the staff chat and a stranger's chat equally often."""
NAMES = {
    **{person.id: f"{person.first_name}'s private chat" for person in PEOPLE},
    STAFF_CHAT: "the staff chat",
    **{chat["id"]: f"a stranger's {chat['type']}" for chat in (GROUP, SUPERGROUP, CHANNEL)},
}

COMMANDS = (
    *(f"/{name}" for name in ("start", "help", "language", "privacy", "cancel", "forget", "status")),
    *(f"/{name}" for name in STAFF_COMMANDS),
    "/status 1234 5678 9012 3456",
    "/tips all",
    "/tip 1a2b3c4d",
    "/status 1a2b3c4d verified",
    "/note 1a2b3c4d a note",
    "/reply 1a2b3c4d a question",
    "/keep 1a2b3c4d off",
    "/export since 01.09.2026",
    "/flows",
    "/staff",
    "/staff add chat -100999",
    "/staff remove chat -100999",
    "/staff add admin 7900099",
    f"/tips@{BOT_USERNAME}",
    "/tips@someone_else_bot",
    "/start@" + BOT_USERNAME + " payload",
    "/",
    "/nonsense",
)
TEXTS = ("today", "сегодня", "2", "да", "1234 5678 9012 3456", "Toshkent", "Andijon viloyati", "x" * 4096)
BUTTON_DATA = (
    *ALL_BUTTONS,
    *GARBAGE,
    actions.option("what", "wages"),
    actions.nav("what", "done"),
    actions.nav("description", "full"),
    actions.country("region", "UZ"),
    callbacks.review("confirm"),
    callbacks.flow_default("no-such-flow"),
    callbacks.flow_activate("forced-labour", 99),
    callbacks.flow_publish("deadbeef"),
    callbacks.staff_language("kk"),
)
POLL = {
    "id": "p1",
    "question": "?",
    "options": [{"text": "a", "voter_count": 1, "persistent_id": "o1"}],
    "total_voter_count": 1,
    "is_closed": False,
    "is_anonymous": True,
    "type": "regular",
    "allows_multiple_answers": False,
    "allows_revoting": False,
    "members_only": False,
}
MESSAGE_KINDS = {
    "message", "edited_message", "channel_post", "edited_channel_post", "business_message", "edited_business_message"
}
FILE_KINDS = ("document", "voice", "audio", "video", "video_note", "animation", "sticker")


NUMBERS = itertools.count(1_000)
"""Update, message and query ids: they never repeat over the run, also when Hypothesis replays an example (a
repeated update id would be taken for Telegram delivering an update again)."""


# ---- what Telegram may send ---------------------------------------------------------------------------------


def maybe(values: dict[str, st.SearchStrategy]) -> st.SearchStrategy[dict[str, Any]]:
    """Optional fields, each present or left out."""
    return st.fixed_dictionaries({}, optional=values)


text_chars = st.characters(blacklist_categories=("Cs",))
any_text = st.one_of(st.sampled_from(TEXTS), st.text(text_chars, min_size=1, max_size=300))
file_ids = st.one_of(st.sampled_from(["AgADunknown", "BQACAgIAAxkBAAI", "x"]), st.text("abcXYZ09_-", min_size=1))
file_sizes = st.one_of(st.integers(0, 2_000), st.integers(20 * 1024 * 1024, 60 * 1024 * 1024))


def a_file(extra: dict[str, Any]) -> st.SearchStrategy[dict[str, Any]]:
    return st.builds(
        lambda file_id, optional: {"file_id": file_id, "file_unique_id": "u" + file_id, **extra, **optional},
        file_ids,
        maybe({"file_size": file_sizes}),
    )


FILES = {
    "document": st.builds(
        lambda f, o: {**f, **o},
        a_file({}),
        maybe(
            {
                "file_name": st.sampled_from(["flow.yaml", "flow.yml", "form.xlsx", "scan.pdf", "a.exe", ""]),
                "mime_type": st.sampled_from(["application/x-yaml", "application/pdf", "text/plain"]),
            }
        ),
    ),
    "voice": a_file({"duration": 3}),
    "audio": a_file({"duration": 3}),
    "video": a_file({"width": 16, "height": 16, "duration": 3}),
    "video_note": a_file({"length": 16, "duration": 3}),
    "animation": a_file({"width": 16, "height": 16, "duration": 3}),
    "sticker": a_file({"type": "regular", "width": 512, "height": 512, "is_animated": False, "is_video": False}),
}


def a_command(text: str) -> dict[str, Any]:
    command = text.split(maxsplit=1)[0]
    return {"text": text, "entities": [{"type": "bot_command", "offset": 0, "length": len(command)}]}


commands = st.sampled_from(COMMANDS).map(a_command)
texts = any_text.map(lambda text: {"text": text})
contents = st.one_of(
    commands,
    commands,
    commands,
    texts,
    texts,
    st.builds(
        lambda sizes, caption: {"photo": sizes, **caption},
        st.lists(a_file({"width": 90, "height": 90}), min_size=1, max_size=3),
        maybe({"caption": any_text}),
    ),
    *(FILES[kind].map(lambda value, kind=kind: {kind: value}) for kind in FILE_KINDS),
    st.just({"contact": {"phone_number": "+998901234567", "first_name": "Ali"}}),
    st.just({"location": {"latitude": 41.3, "longitude": 69.2}}),
    st.just({"venue": {"location": {"latitude": 41.3, "longitude": 69.2}, "title": "Bozor", "address": "Chorsu"}}),
    st.just({"dice": {"emoji": "🎲", "value": 3}}),
    st.just({"new_chat_members": [BOT]}),
    st.just({"left_chat_member": BOT}),
    st.just({"group_chat_created": True}),
    st.just({"new_chat_title": "Renamed"}),
    st.just({"poll": POLL}),
    st.just({}),  # a kind of message this bot has never heard of
)


@st.composite
def messages(draw, chat: dict[str, Any] | None = None, content=contents) -> dict[str, Any]:
    chat = chat or draw(chats)
    if chat["type"] == "private":
        sender = draw(st.sampled_from([OWNER[chat["id"]].to_dict(), None]))
    elif chat["type"] == "channel":
        sender = None
    else:
        sender = draw(st.sampled_from([*(person.to_dict() for person in PEOPLE), None]))
    message = {"message_id": 0, "date": 1_760_000_000, "chat": chat, **draw(content)}
    if sender is not None:
        message["from"] = sender
    if chat["type"] != "private" and draw(st.booleans()):
        message["sender_chat"] = chat
    message.update(draw(maybe({"media_group_id": st.sampled_from(["album-1", "album-2"]), "edit_date": st.just(1)})))
    return message


@st.composite
def presses(draw) -> dict[str, Any]:
    """A button press: on a message of the bot (one Telegram still shows it, or an inaccessible one), on an
    inline message (no chat at all), with data from this bot's buttons, from older versions, or garbage."""
    chat = draw(chats)
    where = draw(st.sampled_from(["message", "inaccessible", "inline"]))
    query: dict[str, Any] = {"id": "", "from": draw(st.sampled_from(PEOPLE)).to_dict(), "chat_instance": "1"}
    if chat["type"] == "private":
        query["from"] = OWNER[chat["id"]].to_dict()
    if where == "message":
        query["message"] = {"message_id": draw(st.integers(1, 50)), "date": 1_760_000_000, "chat": chat, "from": BOT}
    elif where == "inaccessible":
        query["message"] = {"message_id": draw(st.integers(1, 50)), "date": 0, "chat": chat}
    else:
        query["inline_message_id"] = "AAAinline"
    query.update(draw(maybe({"data": st.one_of(st.sampled_from(BUTTON_DATA), st.text(text_chars, max_size=70))})))
    return {"callback_query": query}


def someone() -> st.SearchStrategy[dict[str, Any]]:
    return st.sampled_from(PEOPLE).map(FakeUser.to_dict)


def chat_member_update(draw) -> dict[str, Any]:
    statuses = st.sampled_from(
        [{"status": "member"}, {"status": "left"}, {"status": "kicked", "until_date": 0}]
    ).map(lambda status: {**status, "user": BOT})
    return {
        "chat": draw(chats),
        "from": draw(someone()),
        "date": 1_760_000_000,
        "old_chat_member": draw(statuses),
        "new_chat_member": draw(statuses),
    }


@st.composite
def other_kinds(draw) -> dict[str, Any]:
    """Every other kind of update in the Bot API, and one from a future version of it."""
    chat = draw(chats)
    reaction = [{"type": "emoji", "emoji": "👍"}]
    kinds = {
        "inline_query": {"id": "iq", "from": draw(someone()), "query": draw(any_text), "offset": ""},
        "chosen_inline_result": {"result_id": "r", "from": draw(someone()), "query": "q"},
        "shipping_query": {
            "id": "sq",
            "from": draw(someone()),
            "invoice_payload": "p",
            "shipping_address": {
                "country_code": "UZ", "state": "", "city": "T", "street_line1": "", "street_line2": "", "post_code": ""
            },
        },
        "pre_checkout_query": {
            "id": "pq", "from": draw(someone()), "currency": "UZS", "total_amount": 1, "invoice_payload": "p"
        },
        "poll": POLL,
        "poll_answer": {
            "poll_id": "p1", "option_ids": [0], "option_persistent_ids": ["o1"], **draw(maybe({"user": someone()}))
        },
        "my_chat_member": chat_member_update(draw),
        "chat_member": chat_member_update(draw),
        "chat_join_request": {"chat": chat, "from": draw(someone()), "user_chat_id": REPORTER.id, "date": 1},
        "message_reaction": {
            "chat": chat, "message_id": 1, "date": 1, "old_reaction": [], "new_reaction": reaction,
            **draw(maybe({"user": someone()})),
        },
        "message_reaction_count": {
            "chat": chat, "message_id": 1, "date": 1, "reactions": [{"type": reaction[0], "total_count": 2}]
        },
        "chat_boost": {
            "chat": chat,
            "boost": {
                "boost_id": "b", "add_date": 1, "expiration_date": 2,
                "source": {"source": "premium", "user": draw(someone())},
            },
        },
        "removed_chat_boost": {
            "chat": chat, "boost_id": "b", "remove_date": 1, "source": {"source": "premium", "user": draw(someone())}
        },
        "business_connection": {
            "id": "bc", "user": draw(someone()), "user_chat_id": REPORTER.id, "date": 1, "is_enabled": True
        },
        "business_message": {**draw(messages(PRIVATE[REPORTER.id])), "business_connection_id": "bc"},
        "edited_business_message": {**draw(messages(PRIVATE[REPORTER.id])), "business_connection_id": "bc"},
        "deleted_business_messages": {"business_connection_id": "bc", "chat": chat, "message_ids": [1]},
        "purchased_paid_media": {"from": draw(someone()), "paid_media_payload": "p"},
        "a_kind_from_the_future": {"chat": chat, "anything": [1, {"two": 3}]},
    }
    kind = draw(st.sampled_from(sorted(kinds)))
    return {kind: kinds[kind]}


@st.composite
def message_updates(draw, chat: dict[str, Any] | None = None, content=contents) -> dict[str, Any]:
    kind = draw(st.sampled_from(["message"] * 3 + ["edited_message", "channel_post", "edited_channel_post"]))
    if kind.endswith("channel_post"):
        chat = CHANNEL
    return {kind: draw(messages(chat, content))}


@dataclass(frozen=True)
class PressShown:
    """Someone presses the `pick`-th button the bot shows them in their private chat, as Telegram sends it
    (found when the update is sent, so that the fuzzing goes deep into real conversations)."""

    person: FakeUser
    pick: int


updates = st.one_of(
    message_updates(),
    message_updates(),
    st.sampled_from([GROUP, SUPERGROUP, CHANNEL]).flatmap(lambda chat: message_updates(chat, commands)),
    message_updates(STAFF, commands),
    presses(),
    other_kinds(),
    st.builds(PressShown, st.sampled_from(PEOPLE), st.integers(0, 40)),
    st.builds(PressShown, st.just(REPORTER), st.integers(0, 40)),
)


def as_sent(api: FakeBotAPI, drawn: dict[str, Any] | PressShown) -> dict[str, Any]:
    """The update Telegram would send now, with ids never used before."""
    if isinstance(drawn, PressShown):
        drawn = pressing_shown(api, drawn)
    update = copy.deepcopy({"update_id": next(NUMBERS), **drawn})
    for kind in MESSAGE_KINDS.intersection(update):
        update[kind]["message_id"] = next(NUMBERS)
    if "callback_query" in update:
        update["callback_query"]["id"] = f"q{next(NUMBERS)}"
    return update


def pressing_shown(api: FakeBotAPI, press: PressShown) -> dict[str, Any]:
    """The press of a button the bot shows that person now; /start if it shows them none."""
    person = press.person
    shown = [
        (message, button)
        for message in api.sent_to(person.id)
        if not message.deleted
        for row in message.buttons()
        for button in row
    ]
    if not shown:
        start = {"message_id": 0, "date": 1, "chat": PRIVATE[person.id], "from": person.to_dict()}
        return {"message": {**start, **a_command("/start")}}
    message, button = shown[-1 - press.pick % len(shown)]
    return {
        "callback_query": {
            "id": "",
            "from": person.to_dict(),
            "chat_instance": "1",
            "message": message.raw,
            "data": button.get("callback_data"),
        }
    }


# ---- the bot, handed each update the way the updater does ---------------------------------------------------


class Failures(logging.Handler):
    """ERROR records from the bot and from PTB: a handler, or the error handler itself, let an exception out."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@dataclass(repr=False)
class Fuzzed:
    api: FakeBotAPI
    application: Any
    runtime: Runtime
    failures: Failures

    async def send(self, drawn: dict[str, Any] | PressShown) -> dict[str, Any]:
        update = as_sent(self.api, drawn)
        await self.application.process_update(Update.de_json(update, self.application.bot))
        return update


@pytest.fixture
async def fuzzed(api, make_settings):
    settings = bot_settings(make_settings, api, admin_ids=str(ADMIN.id), staff_language="en")
    runtime = await Runtime.open(settings)
    application = build_application(settings, runtime)
    application.bot._rate_limiter = None  # noqa: SLF001 - Telegram's flood limits only slow the run down here
    failures = Failures()
    root = logging.getLogger()
    root.addHandler(failures)
    await application.initialize()
    try:
        yield Fuzzed(api, application, runtime, failures)
    finally:
        root.removeHandler(failures)
        await application.shutdown()
        await runtime.close()


def described(update: dict[str, Any]) -> str:
    kind, body = next((kind, body) for kind, body in update.items() if kind != "update_id")
    chat = body.get("chat") or (body.get("message") or {}).get("chat") or {}
    what = "a command" if str(body.get("text")).startswith("/") else kind
    return f"{what} in {NAMES.get(chat.get('id'), 'no chat')}"


def chat_named(call) -> int | None:
    value = call.params.get("chat_id")
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


@settings(
    max_examples=300,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(batch=st.lists(updates, min_size=1, max_size=6))
async def test_no_update_breaks_a_handler_or_speaks_in_a_strangers_group(fuzzed, batch):
    api = fuzzed.api
    calls_before = len(api.calls)
    for drawn in batch:
        update = await fuzzed.send(drawn)
        event(described(update))  # how often each kind came where: pytest --hypothesis-show-statistics
        assert not fuzzed.failures.records, (update, fuzzed.failures.records[0].getMessage())
        if "callback_query" in update:
            assert api.callback_answer(update) is not None, update
    spoken = [(call.method, call.params) for call in api.calls[calls_before:] if chat_named(call) in SILENT]
    assert not spoken  # no message, no edit, no leaving: nothing that names such a chat
    assert not api.errors


# ---- what fuzzing found, as people meet it ------------------------------------------------------------------

en = gettext_for("en")


def a_press(person: FakeUser, data: str, **where: Any) -> dict[str, Any]:
    """`person` presses a button with `data`; `where`: the message it is on, or an inline message's id."""
    return {"callback_query": {"id": "", "from": person.to_dict(), "chat_instance": "1", "data": data, **where}}


def bot_errors(caplog) -> list[str]:
    return [record.getMessage() for record in caplog.records if record.levelno >= logging.ERROR]


@pytest.fixture
def admin_settings(make_settings, api):
    return bot_settings(make_settings, api, admin_ids=str(ADMIN.id), staff_language="en")


async def test_a_press_whose_message_cannot_be_edited_still_brings_the_next_step(api, admin_settings, caplog):
    reporter = Reporter(api, FakeUser(id=7900011, first_name="Aziza", language_code="en"))
    async with running_bot(admin_settings):
        await open_questionnaire(reporter, "en")
        question, _button = reporter.holder(actions.option("what", "wages"))
        api.fail_next("editMessageText", 400, "Bad Request: message to edit not found")
        redrawn = await reporter.press_and_wait(actions.option("what", "wages"), lambda m: asks(m, "what"))
        assert redrawn.message_id != question.message_id and "✅" in " ".join(redrawn.button_texts())
        api.fail_next("editMessageText", 400, "Bad Request: message to edit not found")
        await reporter.press_and_wait(actions.nav("what", "done"), lambda m: asks(m, "sector"))
    assert not bot_errors(caplog)
    sorry = en("Sorry, something went wrong. Please try again in a moment.")
    assert not any(message.text == sorry for message in reporter.messages())


async def test_files_telegram_will_not_hand_over_are_refused_plainly(api, admin_settings, caplog):
    reporter = Reporter(api, FakeUser(id=7900012, first_name="Kamola", language_code="en"))
    async with running_bot(admin_settings) as runtime:
        await open_questionnaire(reporter, "en")
        await reach_evidence(reporter, "en", "The school sends every teacher to the cotton fields for a month.")
        unreadable = file_refusal("malformed", "en", runtime.settings.max_file_bytes)
        api.queue_update(
            {
                "message": {
                    "message_id": 900,
                    "date": 1,
                    "chat": reporter.user.private_chat(),
                    "from": reporter.user.to_dict(),
                    "document": {"file_id": "gone", "file_unique_id": "gone", "file_name": "scan.pdf"},
                }
            }
        )
        await reporter.wait(lambda m: m.text == unreadable)
        api.fail_next("getFile", 400, "Bad Request: file is too big")
        after = api.mark(reporter.chat)
        api.send_document(reporter.user, b"%PDF-1.4 big", "big.pdf", "application/pdf")
        too_big = file_refusal("too_large", "en", runtime.settings.max_file_bytes)
        await reporter.wait(lambda m: m.text == too_big, after)

        api.queue_update(
            {
                "message": {
                    "message_id": 1,
                    "date": 1,
                    "chat": ADMIN.private_chat(),
                    "from": ADMIN.to_dict(),
                    "document": {"file_id": "gone", "file_unique_id": "gone", "file_name": "flow.yaml"},
                }
            }
        )
        refused = await api.wait_for_message(ADMIN.id)
        assert refused.text == en("This file could not be read. Please try another one.")
    assert not bot_errors(caplog)


@pytest.mark.parametrize("chat", [GROUP, SUPERGROUP], ids=["group", "supergroup"])
async def test_strangers_in_a_group_hear_nothing_and_the_bot_stays(api, admin_settings, caplog, chat):
    async with running_bot(admin_settings) as runtime:
        for text in COMMANDS:
            api.send_group_text(chat["id"], STRANGER, text, chat_type=chat["type"])
        on_a_message = {"message_id": 1, "date": 1, "chat": chat, "from": BOT}
        pressed = [
            api.queue_update(a_press(STRANGER, data, id=data, message=on_a_message))
            for data in (callbacks.staff_language("kk"), callbacks.BEGIN, "flowadm:off:forced-labour")
        ]
        await handled_so_far(api, STRANGER, chat)
        assert all(not api.callback_answer(update).get("text") for update in pressed)
        assert api.sent_to(chat["id"]) == []
        assert not [call for call in api.calls if chat_named(call) == chat["id"]]  # nothing said, and no leaving
        assert await runtime.records.staff_language(chat["id"]) is None
    assert not bot_errors(caplog)


async def test_posts_without_a_sender_and_presses_without_a_message_break_nothing(fuzzed):
    """A channel's posts have no sender: they are no one's command. A press on an inline message has no
    message, so no chat: it is answered and does nothing. A press on a menu too old for the bot to see does
    what it says, and the answer tells so."""
    api, runtime = fuzzed.api, fuzzed.runtime
    for chat in (CHANNEL, {**STAFF, "type": "channel"}):
        for text in ("/tips", "/language", "/digest", "/start"):
            await fuzzed.send({"channel_post": {"message_id": 0, "date": 1, "chat": chat, **a_command(text)}})
    await fuzzed.send({"message": {"message_id": 0, "date": 1, "chat": STAFF, **a_command("/tips")}})
    inline = await fuzzed.send(a_press(STAFF_MEMBER, callbacks.staff_language("kk"), inline_message_id="AAA"))
    assert api.callback_answer(inline) is not None
    assert api.calls_to("sendMessage") == [] and await runtime.repository.audit_entries() == []
    gone_menu = {"message_id": 3, "date": 0, "chat": STAFF}  # a menu too old for the bot to see
    pressed = await fuzzed.send(a_press(STAFF_MEMBER, callbacks.staff_language("kk"), message=gone_menu))
    chosen = gettext_for("kk")("This chat now gets digests in {language}.").format(language=LANGUAGE_NAMES["kk"])
    assert api.callback_answer(pressed)["text"] == chosen
    assert await runtime.records.staff_language(STAFF_CHAT) == "kk"
    assert not fuzzed.failures.records
