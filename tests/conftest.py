"""Shared fixtures: databases (SQLite always, PostgreSQL when TIPBOT_TEST_DATABASE_URL is set),
settings pointing at a temporary data dir, and a Runtime."""

from __future__ import annotations

import asyncio
import os
import secrets
import sys
from pathlib import Path

import pytest
from sqlalchemy import text

from bot.config import load_settings
from bot.runtime import Runtime
from storage.database import create_engine

ROOT = Path(__file__).resolve().parent.parent
SERVER_URL = os.environ.get("TIPBOT_TEST_DATABASE_URL")
"""A PostgreSQL server to test against; this run works in a database of its own created there."""
RUN_DATABASE = f"tipbot_test_{os.getpid()}_{secrets.token_hex(4)}"
POSTGRES_URL = f"{SERVER_URL.rsplit('/', 1)[0]}/{RUN_DATABASE}" if SERVER_URL else None

# The sanitizer sandbox starts spawned children: they must import the project like this process does.
os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

# Tests never read a developer's .env or environment settings.
for name in list(os.environ):
    if name.startswith("TIPBOT_") and name != "TIPBOT_TEST_DATABASE_URL":
        del os.environ[name]


async def _on_server(statement: str) -> None:
    engine = create_engine(SERVER_URL).execution_options(isolation_level="AUTOCOMMIT")
    async with engine.connect() as connection:
        await connection.execute(text(statement))
    await engine.dispose()


def pytest_configure(config) -> None:
    """Another test run (a colleague's, CI's) may use the server at the same time: never touch its database."""
    if POSTGRES_URL:
        asyncio.run(_on_server(f'CREATE DATABASE "{RUN_DATABASE}"'))


def pytest_unconfigure(config) -> None:
    if POSTGRES_URL:
        asyncio.run(_on_server(f'DROP DATABASE IF EXISTS "{RUN_DATABASE}" WITH (FORCE)'))


async def reset_postgres(url: str) -> None:
    engine = create_engine(url)
    async with engine.begin() as connection:
        await connection.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
        await connection.execute(text("CREATE SCHEMA public"))
    await engine.dispose()


def database_params() -> list:
    params = [pytest.param("sqlite", id="sqlite")]
    if POSTGRES_URL:
        params.append(pytest.param("postgresql", id="postgresql"))
    return params


@pytest.fixture(params=database_params())
async def database_url(request, tmp_path) -> str:
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'tipbot.db'}"
    await reset_postgres(POSTGRES_URL)
    return POSTGRES_URL


@pytest.fixture
def make_settings(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no stray .env is read

    def make(**overrides):
        values = {"data_dir": tmp_path / "data", "secret_key": "k" * 40, **overrides}
        return load_settings(**values)

    return make


@pytest.fixture
async def api():
    """A fake Telegram Bot API server on 127.0.0.1 for the test (see fakebotapi.py)."""
    from .fakebotapi import FakeBotAPI

    async with FakeBotAPI() as server:
        yield server


@pytest.fixture
async def runtime(make_settings, database_url):
    opened = await Runtime.open(make_settings(database_url=database_url))
    yield opened
    await opened.close()
