"""Engines, sessions and schema upgrades for SQLite (default) and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import event
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


def create_engine(url: str) -> AsyncEngine:
    engine = create_async_engine(url, hide_parameters=True)  # values never reach error texts or logs
    if engine.dialect.name == "sqlite":
        _prepare_sqlite_file(url)
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
    return engine


def _prepare_sqlite_file(url: str) -> None:
    """A new folder for the database (the data dir by default, beside the secret key) is for the bot's user
    alone, mode 0700 whatever the umask; an existing folder is left as it is."""
    path = url.split("///", 1)[-1]
    if path and path != ":memory:":
        folder = Path(path).parent
        try:
            folder.mkdir(mode=0o700, parents=True)
        except FileExistsError:
            return
        folder.chmod(0o700)


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    """Foreign keys for cascades; secure_delete so deleted tips are overwritten, not left in free pages."""
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA secure_delete=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.close()


def session_factory(engine: AsyncEngine) -> async_sessionmaker:
    return async_sessionmaker(engine, expire_on_commit=False)


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return config


async def upgrade(engine: AsyncEngine) -> None:
    """Bring the schema to the newest migration (run at start and by `tipbot db upgrade`)."""

    def run(connection: Connection) -> None:
        config = alembic_config()
        config.attributes["connection"] = connection
        command.upgrade(config, "head")

    async with engine.begin() as connection:
        await connection.run_sync(run)
