"""Secret files in the data dir: made private and whole, and refused at start when they are not."""

from __future__ import annotations

import contextlib
import os
from concurrent.futures import ThreadPoolExecutor

import pytest

from bot.privacy.keys import SecretKeyError, load_secret, load_webhook_secret
from storage.database import create_engine

from .cli import tipbot


@contextlib.contextmanager
def umask(mask: int):
    previous = os.umask(mask)
    try:
        yield
    finally:
        os.umask(previous)


@pytest.mark.parametrize("mask", [0o022, 0o000, 0o077])
def test_generated_key_is_0600_in_a_0700_dir_whatever_the_umask(tmp_path, mask):
    data = tmp_path / "deep" / "data"
    with umask(mask):
        secret = load_secret(None, data)
    assert (data / "secret.key").stat().st_mode & 0o777 == 0o600
    assert data.stat().st_mode & 0o777 == 0o700
    assert [path.name for path in data.iterdir()] == ["secret.key"]  # no temporary file left behind
    assert load_secret(None, data) == secret and len(secret) >= 32


def test_an_existing_data_dir_is_left_as_it_is(tmp_path):
    data = tmp_path / "data"
    data.mkdir(mode=0o750)
    data.chmod(0o750)
    load_secret(None, data)
    assert data.stat().st_mode & 0o777 == 0o750


def test_commands_starting_together_end_up_with_one_key(tmp_path):
    with ThreadPoolExecutor(8) as pool:
        secrets = set(pool.map(lambda _: load_secret(None, tmp_path / "data"), range(16)))
    assert len(secrets) == 1
    assert [path.name for path in (tmp_path / "data").iterdir()] == ["secret.key"]


def test_a_failed_write_leaves_neither_key_nor_temporary_file(tmp_path, monkeypatch):
    def disk_full(_descriptor: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", disk_full)
    with pytest.raises(OSError):
        load_secret(None, tmp_path / "data")
    assert list((tmp_path / "data").iterdir()) == []


def test_a_configured_key_writes_nothing(tmp_path):
    assert load_secret("k" * 32, tmp_path / "data") == b"k" * 32
    assert load_webhook_secret("Our_own-secret-42", tmp_path / "data") == "Our_own-secret-42"
    assert not (tmp_path / "data").exists()


def test_key_file_open_to_other_users_is_refused_with_one_line(tmp_path):
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "secret.key").write_text("s" * 64)
    (tmp_path / "data" / "secret.key").chmod(0o644)
    result = tipbot("digest", "--print", cwd=tmp_path, env={"TIPBOT_DATA_DIR": "data"})
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        "tipbot: secret key file data/secret.key is readable or writable by other users (mode 0644): "
        "run chmod 600 data/secret.key"
    ]


def test_short_key_file_is_refused_with_one_line(tmp_path):
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "secret.key").write_text("too-short\n")
    (tmp_path / "data" / "secret.key").chmod(0o600)
    result = tipbot("digest", "--print", cwd=tmp_path, env={"TIPBOT_DATA_DIR": "data"})
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        "tipbot: secret key file data/secret.key is too short (9 bytes, at least 32): "
        "restore it from your backup (a new key cannot read the stored reports)"
    ]


def test_tipbot_run_refuses_an_open_key_file_before_going_online(tmp_path):
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "secret.key").write_text("s" * 64)
    (tmp_path / "data" / "secret.key").chmod(0o664)
    env = {
        "TIPBOT_DATA_DIR": "data",
        "TIPBOT_TOKEN": "123456:" + "A" * 35,
        "TIPBOT_API_BASE_URL": "http://127.0.0.1:9/bot",
    }
    result = tipbot("run", cwd=tmp_path, env=env)
    assert result.returncode == 2 and len(result.stderr.splitlines()) == 1
    assert "secret key file data/secret.key is readable or writable by other users (mode 0664)" in result.stderr


def test_webhook_secret_file_is_checked_like_the_key(tmp_path):
    data = tmp_path / "data"
    secret = load_webhook_secret(None, data)
    assert (data / "webhook.secret").stat().st_mode & 0o777 == 0o600
    assert load_webhook_secret(None, data) == secret
    (data / "webhook.secret").chmod(0o640)
    with pytest.raises(SecretKeyError, match=r"webhook secret file .* run chmod 600"):
        load_webhook_secret(None, data)
    (data / "webhook.secret").write_text("not a token!")
    (data / "webhook.secret").chmod(0o600)
    with pytest.raises(SecretKeyError, match=r"must hold 1 to 256 characters"):
        load_webhook_secret(None, data)


async def test_a_new_database_folder_is_0700(tmp_path):
    with umask(0o000):
        engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'db' / 'tipbot.db'}")
    await engine.dispose()
    assert (tmp_path / "db").stat().st_mode & 0o777 == 0o700
