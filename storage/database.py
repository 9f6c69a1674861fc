"""Engines, sessions and schema upgrades for SQLite (default) and PostgreSQL.

Every wait on the database is bounded, so an outage becomes a clear "try again in a minute" within a few
seconds instead of silence, and the bot recovers by itself once the database is back. A silent partition
(packets dropped, nothing closed) is the hard case, which only time-outs notice: a pooled connection is checked
with a short ping before each use (pool_pre_ping), a new one must be ready within CONNECT_TIMEOUT, and a
statement already running when the server went silent ends after COMMAND_TIMEOUT.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import traceback
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import event, exc, text
from sqlalchemy.engine import URL, Connection, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlalchemy.pool import NullPool

from .coordination import LeaseTimeout

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
MIGRATIONS = 7313
"""PostgreSQL advisory lock namespace of schema upgrades (see storage/coordination.py for the others)."""

CONNECT_TIMEOUT = 5.0
"""Seconds to open a PostgreSQL connection (TCP, TLS, start-up and authentication take well under a second on
a working network). Without it a connection into a silent partition waits until the operating system gives up,
minutes later."""
PING_TIMEOUT = 3.0
"""Seconds the small query that checks a pooled connection before use may take. A server that does not answer
it is unreachable: the update fails now, with the clear message, rather than after COMMAND_TIMEOUT (which
the dialect's own ping would wait)."""
CLOSE_TIMEOUT = 1.0
"""Seconds to take leave of the server when a connection is closed (it takes a round trip); then the connection
is dropped. The driver would wait COMMAND_TIMEOUT for each pooled connection of a stopping bot cut off from
its database."""
STATEMENT_TIMEOUT = 15.0
"""Seconds a statement may run on the PostgreSQL server (`statement_timeout`) before the server cancels it: a
reporter behind a stuck lock or an overloaded server gets the clear message instead of silence. The longest
legitimate statements take a few seconds at most: the digest reads 10,000 tips with 1,000 photos in under 2
seconds on two cores, marks them in 1.5, a night's retention deletes 5,000 in 0.2; moving a 50 MB report's
files into its tip and the scrubber's VACUUM are quicker. Migrations run without it (`long_work`)."""
COMMAND_TIMEOUT = STATEMENT_TIMEOUT + 5
"""Seconds the bot waits for any answer from PostgreSQL (asyncpg's `command_timeout`). Longer than the
statement time-out, so a reachable server always cancels first with a clear error; this one ends the wait on a
server that went silent while a statement was running (the updates arriving after that see PING_TIMEOUT)."""
IDLE_IN_TRANSACTION_TIMEOUT = 60.0
"""Seconds the server keeps a session that sits in an open transaction without a statement. The bot never
waits on anything else inside a transaction, so this means the bot's end vanished (a partition, a killed
process): its locks are released instead of blocking every reporter until TCP gives up."""
SERVER_KEEPALIVES = {"tcp_keepalives_idle": "60", "tcp_keepalives_interval": "10", "tcp_keepalives_count": "6"}
"""The server probes a connection after a minute of silence and drops it after six unanswered probes, so the
sessions of a bot cut off by a partition do not hold connection slots for hours."""
POOL_TIMEOUT = 10.0
"""Seconds an update waits for a free pooled connection while all are in use, then it fails with the clear
message (SQLAlchemy's default, 30, is a long silence for a reporter)."""
SQLITE_BUSY_TIMEOUT = 15.0
"""Seconds an SQLite write waits for its turn among the bot's own writers (WriterLine), and then for another
process's write or a checkpoint to finish (SQLite has one writer at a time). Under a burst, reporters' writes,
checkpoints and retention queue behind each other; such short waits must not fail with "database is locked"
(Python's default is 5). A wait longer than this fails as "database is locked", and the reporter is asked to
send their last answer again."""

UNAVAILABLE_SQLSTATES = ("08", "53", "57", "55P03", "25P03")
"""PostgreSQL error classes and codes that mean "not now" rather than a mistake in the bot: connection
exceptions, insufficient resources (a full disk, too many connections), operator intervention (a statement
time-out, a shutdown, a server still starting), a lock time-out, the idle-in-transaction time-out."""
SQLITE_UNAVAILABLE = {5, 6, 7, 10, 13, 14}
"""SQLite's primary result codes for the same: busy, locked, out of memory, I/O error, disk full, cannot open."""
DRIVER_MODULES = ("sqlalchemy.", "asyncpg.", "aiosqlite.")


def create_engine(url: str | URL, long_work: bool = False) -> AsyncEngine:
    """Statement values never reach error texts or logs (hide_parameters). `long_work` (PostgreSQL) is for
    migrations, whose statements may run for minutes: no statement or command time-out, and no pool."""
    url = make_url(url)
    if url.get_backend_name() == "sqlite":
        connect_args = {"timeout": SQLITE_BUSY_TIMEOUT, "factory": LinedConnection}
        engine = create_async_engine(url, hide_parameters=True, connect_args=connect_args)
        _prepare_sqlite_file(url)
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    asyncpg = url.get_driver_name() == "asyncpg"
    connect_args = _asyncpg_arguments(long_work) if asyncpg else {}
    if long_work:
        return create_async_engine(url, hide_parameters=True, poolclass=NullPool, connect_args=connect_args)
    engine = create_async_engine(
        url,
        hide_parameters=True,
        pool_pre_ping=True,
        pool_timeout=POOL_TIMEOUT,
        connect_args=connect_args,
    )
    if asyncpg:  # the driver's own ping and close wait as long as a statement may
        engine.sync_engine.dialect.do_ping = _ping_briefly  # type: ignore[method-assign]
        engine.sync_engine.dialect.do_close = _close_briefly  # type: ignore[method-assign]
    return engine


def _asyncpg_arguments(long_work: bool) -> dict:
    if long_work:
        return {"timeout": CONNECT_TIMEOUT, "server_settings": dict(SERVER_KEEPALIVES)}
    settings = {
        "statement_timeout": _milliseconds(STATEMENT_TIMEOUT),
        "idle_in_transaction_session_timeout": _milliseconds(IDLE_IN_TRANSACTION_TIMEOUT),
        **SERVER_KEEPALIVES,
    }
    return {"timeout": CONNECT_TIMEOUT, "command_timeout": COMMAND_TIMEOUT, "server_settings": settings}


def _milliseconds(seconds: float) -> str:
    return str(int(seconds * 1000))


def _ping_briefly(dbapi_connection) -> bool:
    """pool_pre_ping's check within PING_TIMEOUT. A connection that does not answer is dropped at once (a
    polite close would wait on the silence too) and the error ends the update; one the server closed reports
    False, so the pool opens a new one in its place."""
    driver = dbapi_connection.driver_connection
    try:
        dbapi_connection.run_async(lambda connection: connection.execute("SELECT 1", timeout=PING_TIMEOUT))
    except TimeoutError:
        driver.terminate()
        raise
    except Exception:
        if driver.is_closed():
            return False
        raise
    return True


def _close_briefly(dbapi_connection) -> None:
    try:
        dbapi_connection.run_async(lambda connection: connection.close(timeout=CLOSE_TIMEOUT))
    except Exception:  # a silent server, or a connection already broken: nothing more to say to it
        dbapi_connection.driver_connection.terminate()


def database_unavailable(error: BaseException) -> bool:
    """Whether `error`, or what caused it, means the database could not be reached or did not answer in time
    (an outage, a full disk, a lock held too long) rather than a mistake in the bot: then asking to try again
    in a minute is the right answer."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        if _unavailable(current):
            return True
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return False


def _unavailable(error: BaseException) -> bool:
    if isinstance(error, (exc.TimeoutError, exc.DisconnectionError, LeaseTimeout)):  # no connection, or chat, in time
        return True
    if isinstance(error, exc.DBAPIError):
        if error.connection_invalidated:
            return True
        sqlstate = getattr(error.orig, "sqlstate", None)
        if sqlstate:
            return sqlstate.startswith(UNAVAILABLE_SQLSTATES)
        code = getattr(error.orig, "sqlite_errorcode", None)
        return code is not None and code & 0xFF in SQLITE_UNAVAILABLE
    if isinstance(error, OSError) or type(error).__module__.startswith("asyncpg"):
        return _raised_by_driver(error)  # asyncpg's time-outs, refused connections and closed ones come raw
    return False


def _raised_by_driver(error: BaseException) -> bool:
    return any(
        frame.f_globals.get("__name__", "").startswith(DRIVER_MODULES)
        for frame, _line in traceback.walk_tb(error.__traceback__)
    )


def _prepare_sqlite_file(url: URL) -> None:
    """A new folder for the database (the data dir by default, beside the secret key) is for the bot's user
    alone, mode 0700 whatever the umask; an existing folder is left as it is."""
    path = url.database
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


class WriterLine:
    """The bot's writers to one SQLite file, one at a time, each waiting on a lock rather than in SQLite.

    SQLite lets one connection write at a time; the others wait in its busy handler, which sleeps and tries
    again, up to 100 ms between tries. With many connections waiting, the lock stays free between their tries
    and the unlucky one waits on: with 500 reporters at once on two cores (benchmarks/sqlite_burst.py) single
    writes waited up to 7 s of the 15 s allowed, and the durable queue gave up recording updates. Here a
    connection about to write takes its file's line first, in the thread that runs its statements, and keeps
    it until its transaction ends; the next writer goes on the moment it is given back. The same burst then
    has no write waiting longer than 0.8 s and every update recorded, at about the same throughput. SQLite's
    busy timeout is left for other processes (the CLI), a commit still reaching the disk, and a checkpoint
    waiting for readers. The line is taken in the statements' thread: an asyncio lock, taken in the event
    loop, made each turn longer by a pass of the loop and measured slower than SQLite's own waiting."""

    _lines: dict[str, threading.Lock] = {}
    _guard = threading.Lock()

    @classmethod
    def of(cls, database: str) -> threading.Lock:
        """The line of a database file; a database in memory is the connection's own and gets a line of its own."""
        if database in ("", ":memory:") or database.startswith("file:"):
            return threading.Lock()
        with cls._guard:
            return cls._lines.setdefault(os.path.realpath(database), threading.Lock())


def _writes(statement: str) -> bool:
    """Whether a statement may need SQLite's write lock: all but reads and settings. A checkpoint counts (while
    it waits for readers it holds back every writer, so it waits in line instead)."""
    head = statement.lstrip()[:32].upper()
    if head.startswith("PRAGMA"):
        return "WAL_CHECKPOINT" in head
    return not head.startswith(("SELECT", "EXPLAIN"))


class LinedCursor(sqlite3.Cursor):
    def execute(self, statement, *parameters):  # type: ignore[override]
        self.connection.before(statement)
        try:
            return super().execute(statement, *parameters)
        finally:
            self.connection.after()

    def executemany(self, statement, *parameters):  # type: ignore[override]
        self.connection.before(statement)
        try:
            return super().executemany(statement, *parameters)
        finally:
            self.connection.after()


class LinedConnection(sqlite3.Connection):
    """An SQLite connection that writes only in its turn (WriterLine); aiosqlite runs it in a thread of its own.
    The turn is taken before the first write of a transaction and given back when the transaction ends (a
    commit, a rollback, closing), or at once after a write that is not in a transaction (a checkpoint)."""

    def __init__(self, database, *arguments, **options) -> None:
        super().__init__(database, *arguments, **options)
        self._line = WriterLine.of(os.fspath(database))
        self._turn = False

    def cursor(self, factory=LinedCursor):  # type: ignore[override]
        return super().cursor(factory)

    def before(self, statement: str) -> None:
        if self._turn or not _writes(statement):
            return
        if not self._line.acquire(timeout=SQLITE_BUSY_TIMEOUT):
            raise _locked()
        self._turn = True

    def after(self) -> None:
        if not self.in_transaction:
            self._give_back()

    def commit(self) -> None:
        """The turn is given back as the commit starts: the next writer's first statement then waits in SQLite
        only for this commit to reach the disk, and the turn is not held while this thread waits to run Python
        again after it (up to 5 ms while the event loop keeps the interpreter busy)."""
        self._give_back()
        super().commit()

    def rollback(self) -> None:
        try:
            super().rollback()
        finally:
            self._give_back()

    def close(self) -> None:
        try:
            super().close()
        finally:
            self._give_back()

    def __del__(self) -> None:  # a connection dropped without closing: SQLite releases its lock, so does the line
        self._give_back()

    def _give_back(self) -> None:
        if self._turn:
            self._turn = False
            self._line.release()


def _locked() -> sqlite3.OperationalError:
    """The error SQLite itself raises when its busy timeout runs out, so it is handled the same way."""
    error = sqlite3.OperationalError("database is locked")
    error.sqlite_errorcode, error.sqlite_errorname = 5, "SQLITE_BUSY"
    return error


def session_factory(engine: AsyncEngine) -> async_sessionmaker:
    return async_sessionmaker(engine, expire_on_commit=False)


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return config


async def upgrade(engine: AsyncEngine) -> None:
    """Bring the schema to the newest migration (run at start and by `tipbot db upgrade`), on a connection of
    its own without the statement time-outs: a migration over a large table may rightly take minutes."""

    def run(connection: Connection) -> None:
        config = alembic_config()
        config.attributes["connection"] = connection
        command.upgrade(config, "head")

    if engine.dialect.name == "sqlite":
        migrating = create_engine(engine.url)
        _transactional_ddl(migrating)
    else:
        migrating = create_engine(engine.url, long_work=True)
    try:
        async with migrating.begin() as connection:
            if migrating.dialect.name == "postgresql":  # instances starting together: one migrates, then the others
                await connection.execute(text("SELECT pg_advisory_xact_lock(:namespace, 0)"), {"namespace": MIGRATIONS})
            await connection.run_sync(run)
    finally:
        await migrating.dispose()


def _transactional_ddl(engine: AsyncEngine) -> None:
    """Python's sqlite3 opens a transaction only before INSERT, UPDATE or DELETE, so each CREATE, DROP or ALTER
    was committed at once: a bot killed during its first start's migration left half a schema, and every later
    start failed on "table … already exists". Here the driver opens nothing by itself and the transaction is
    begun explicitly: a migration is all or nothing."""

    @event.listens_for(engine.sync_engine, "connect")
    def _no_implicit_transactions(dbapi_connection, _record) -> None:
        dbapi_connection.isolation_level = None

    @event.listens_for(engine.sync_engine, "begin")
    def _begin(connection: Connection) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")
