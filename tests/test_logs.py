"""Log redaction applies to every handler, including ones added after configuration."""

import hashlib
import hmac
import io
import logging
import secrets

from sqlalchemy import Column, MetaData, String, Table
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import create_async_engine

from bot.logs import Redactor, configure_logging
from storage.database import create_engine


def test_redactor_masks_identifiers():
    redact = Redactor(("123456:SECRET-TOKEN-abcdefghijklmnop",))
    text = (
        "{'first_name': 'Zul', 'username': 'zz_top', 'id': 987654321777, 'text': 'I am Ali'} @zulfiya_x +998901234567"
    )
    assert redact(text) == (
        "{'first_name': '[redacted]', 'username': '[redacted]', 'id': [number], 'text': '[redacted]'} @[user] [number]"
    )
    assert redact("token 123456:SECRET-TOKEN-abcdefghijklmnop in url") == "token [secret] in url"
    assert redact("Norma 60 kg, 2026-09-15, version 1.2.3") == "Norma 60 kg, 2026-09-15, version 1.2.3"


def test_every_handler_gets_redacted_records_and_tracebacks():
    configure_logging("DEBUG", ("123456:SECRET-TOKEN-abcdefghijklmnop",), stream=io.StringIO())
    late = io.StringIO()
    logging.getLogger().addHandler(logging.StreamHandler(late))
    try:
        log = logging.getLogger("bot.test")
        log.warning("chat %s wrote as @%s", 987654321777, "zulfiya_secret")
        try:
            raise ValueError("Chat 987654321777 not found for @zulfiya_secret")
        except ValueError:
            log.exception("handling failed")
        logging.getLogger("telegram.ext.ExtBot").debug("payload {'username': 'zulfiya_secret'}")
    finally:
        logging.getLogger().handlers.clear()
    output = late.getvalue()
    assert "987654321777" not in output and "zulfiya_secret" not in output
    assert "handling failed" in output and "ValueError" in output and "Traceback" in output
    assert "payload" not in output


def test_keys_hashes_and_random_secrets_are_masked_but_not_names():
    redact = Redactor()
    chat_key = hmac.new(b"k" * 32, b"987654321777", hashlib.sha256).hexdigest()
    secret = secrets.token_urlsafe(48)
    text = f"draft:{chat_key} tip {secrets.token_hex(16)} key {secret.upper()}1a {secret}"
    assert redact(text) == "draft:[hex] tip [hex] key [secret] [secret]"
    named = "test_strangers_get_the_neutral_answer_and_change_nothing in bot/flows/loader.py, short id 0a1b2c3d"
    assert redact(named) == named


def test_database_errors_lose_their_parameters_and_echoed_values():
    text = (
        "(sqlalchemy.dialects.postgresql.asyncpg.IntegrityError) <class 'asyncpg.exceptions.UniqueViolationError'>: "
        'duplicate key value violates unique constraint "attempts_pkey"\n'
        "DETAIL:  Key (key)=(hmac-of-a-chat) already exists.\n"
        "[SQL: INSERT INTO code_attempts (key, hour, count) VALUES ($1, $2, $3)]\n"
        "[parameters: ('hmac-of-a-chat', datetime.datetime(2026, 9, 15, 10, 0), 1)]\n"
        "invalid input for query argument $1: 'hmac-of-a-chat' (expected int)"
    )
    redacted = Redactor()(text)
    assert "hmac-of-a-chat" not in redacted and "2026" not in redacted
    assert "DETAIL: [redacted]" in redacted and "[parameters hidden]" in redacted
    assert "INSERT INTO code_attempts (key, hour, count)" in redacted


async def test_a_logged_duplicate_key_error_shows_neither_parameters_nor_key(database_url):
    chat_key = hmac.new(b"k" * 32, b"987654321777", hashlib.sha256).hexdigest()
    words = "private " + "words"  # not in this file's source, which a traceback quotes
    table = Table("log_check", MetaData(), Column("key", String(64), primary_key=True), Column("note", String(40)))
    output = io.StringIO()
    configure_logging("INFO", stream=output)
    errors = []
    try:
        for engine in (create_async_engine(database_url), create_engine(database_url)):
            async with engine.begin() as connection:
                await connection.run_sync(table.create, checkfirst=True)
                await connection.execute(table.insert().values(key=chat_key, note="first"))
            try:
                async with engine.begin() as connection:
                    await connection.execute(table.insert().values(key=chat_key, note=words))
            except IntegrityError as error:
                errors.append(str(error))
                logging.getLogger("bot.test").exception("storing failed")
            async with engine.begin() as connection:
                await connection.run_sync(table.drop)
            await engine.dispose()
    finally:
        logging.getLogger().handlers.clear()
    assert chat_key in errors[0] and words in errors[0]  # what SQLAlchemy says unless told to hide
    assert chat_key not in errors[1] and words not in errors[1]  # our engines hide the parameters
    logged = output.getvalue()
    assert logged.count("storing failed") == 2 and "IntegrityError" in logged
    assert chat_key not in logged and words not in logged and "[parameters:" not in logged
