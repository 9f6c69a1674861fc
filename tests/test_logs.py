"""Log redaction applies to every handler, including ones added after configuration."""

import io
import logging

from bot.logs import Redactor, configure_logging


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
