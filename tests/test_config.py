"""Settings: defaults, parsing, and one clear line naming the setting when something is wrong."""

from __future__ import annotations

from datetime import time

import pytest

from bot.config import ConfigError, load_settings

from .cli import tipbot


def test_defaults(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    settings = load_settings()
    assert settings.token is None and settings.staff_chat_ids == [] and settings.digest_time == time(9, 0)
    assert settings.timezone == "Asia/Tashkent" and settings.max_file_mb == 20
    assert settings.effective_database_url == f"sqlite+aiosqlite:///{tmp_path / 'data' / 'tipbot.db'}"
    assert settings.api_base_url == "https://api.telegram.org/bot"


def test_values_from_environment_and_env_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".env").write_text("TIPBOT_DIGEST_TIME=18:30\nTIPBOT_STAFF_LANGUAGE=kk\n")
    monkeypatch.setenv("TIPBOT_STAFF_CHAT_IDS", "-1001, -1002")
    monkeypatch.setenv("TIPBOT_ADMIN_IDS", "42")
    settings = load_settings()
    assert settings.staff_chat_ids == [-1001, -1002] and settings.admin_ids == [42]
    assert settings.digest_time == time(18, 30) and settings.staff_language == "kk"


@pytest.mark.parametrize(
    ("variable", "value", "expected"),
    [
        ("TIPBOT_TIMEZONE", "Mars/Olympus", "invalid setting TIPBOT_TIMEZONE: unknown time zone"),
        ("TIPBOT_STAFF_CHAT_IDS", "staff-group", "invalid setting TIPBOT_STAFF_CHAT_IDS: must be a comma"),
        ("TIPBOT_DIGEST_TIME", "9 o'clock", "invalid setting TIPBOT_DIGEST_TIME"),
        (
            "TIPBOT_STAFF_LANGUAGE",
            "de",
            "invalid setting TIPBOT_STAFF_LANGUAGE: must be one of ru, uz, kk, en",
        ),
        ("TIPBOT_LISTEN", "localhost", "invalid setting TIPBOT_LISTEN: 'localhost' is not an IP address"),
        ("TIPBOT_LISTEN", "", "invalid setting TIPBOT_LISTEN: '' is not an IP address"),
        ("TIPBOT_WEBHOOK_SECRET", "has spaces", "invalid setting TIPBOT_WEBHOOK_SECRET: must be 1 to 256 characters"),
        ("TIPBOT_WEBHOOK_SECRET", "", "invalid setting TIPBOT_WEBHOOK_SECRET: must be 1 to 256 characters"),
        ("TIPBOT_WEBHOOK_SECRET", "x" * 257, "invalid setting TIPBOT_WEBHOOK_SECRET: must be 1 to 256 characters"),
    ],
)
def test_bad_values_name_the_setting(tmp_path, monkeypatch, variable, value, expected):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigError, match="^" + expected.replace("(", r"\(")):
        load_settings()


def test_cli_prints_one_line_and_exits_2_on_bad_config(tmp_path):
    result = tipbot("flows", "list", cwd=tmp_path, env={"TIPBOT_TIMEZONE": "Nowhere/City"})
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "tipbot: invalid setting TIPBOT_TIMEZONE: unknown time zone 'Nowhere/City' (use a name like Asia/Tashkent)"
    ]


def test_short_secret_key_is_refused(tmp_path):
    result = tipbot("digest", "--print", cwd=tmp_path, env={"TIPBOT_SECRET_KEY": "short"})
    assert result.returncode == 2 and "TIPBOT_SECRET_KEY" in result.stderr and "Traceback" not in result.stderr


def test_webhook_listens_on_loopback_unless_told(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert load_settings().listen == "127.0.0.1"
    monkeypatch.setenv("TIPBOT_LISTEN", " :: ")
    monkeypatch.setenv("TIPBOT_WEBHOOK_SECRET", "A-z_09" * 40)
    settings = load_settings()
    assert settings.listen == "::" and len(settings.webhook_secret.get_secret_value()) == 240


def test_cli_names_a_bad_webhook_secret_without_showing_it(tmp_path):
    result = tipbot("run", cwd=tmp_path, env={"TIPBOT_WEBHOOK_SECRET": "s3cret with spaces"})
    assert result.returncode == 2 and len(result.stderr.splitlines()) == 1
    assert "TIPBOT_WEBHOOK_SECRET" in result.stderr and "s3cret" not in result.stderr
