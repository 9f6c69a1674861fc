"""The webhook server: Telegram's updates at POST /telegram, and GET /healthz for a load balancer.

Our own rather than PTB's `run_webhook`, for what several instances behind a load balancer need: a health check
that says whether this instance can work (the database answers and its schema is the one this version
expects), the secret checked before the body is looked at, and a size limit on the body. The rest is as
PTB does it: the update is parsed and put into the application's update queue before Telegram hears 200 (the
queue is intake.DurableQueue, which records the update in the database first), and the application is
initialized, started, stopped and shut down in PTB's order.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import logging
import signal
from collections.abc import AsyncIterator
from http import HTTPStatus

import tornado.web
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine
from telegram import Update
from telegram.ext import Application
from tornado.httpserver import HTTPServer

from storage.database import alembic_config, database_unavailable

from .app import ALLOWED_UPDATES
from .runtime_access import runtime_in

log = logging.getLogger(__name__)

PATH = "/telegram"
HEALTH_PATH = "/healthz"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
MAX_BODY = 1024 * 1024
"""Bytes of one update. Telegram's largest (a 4096-character message quoting another) is a few tens of KB."""
BODY_WITHIN = 10.0
"""Seconds to receive a body once its headers came (Telegram sends it at once; a trickle is someone else)."""
HEALTH_WITHIN = 2.0
"""Seconds the database has to answer the health check before the instance is reported unhealthy."""
DRAIN_WITHIN = 5.0
"""Seconds a stopping server waits for updates being received to be queued, so Telegram hears 200 for them."""
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def run_webhook(application: Application, *, listen: str, port: int, webhook_url: str, secret: str) -> None:
    """Serve until SIGINT or SIGTERM, then stop cleanly (what `tipbot run` does with a webhook URL)."""
    asyncio.run(serve(application, listen=listen, port=port, webhook_url=webhook_url, secret=secret))


async def serve(application: Application, *, listen: str, port: int, webhook_url: str, secret: str) -> None:
    """PTB's run_webhook lifecycle with our server: initialize, post_init, listen, setWebhook, start; at a stop
    signal: stop listening, stop, post_stop, shutdown, post_shutdown. Listening begins before the webhook is
    registered, so Telegram's first delivery finds the server up. Pending updates are never dropped."""
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in STOP_SIGNALS:
        loop.add_signal_handler(signum, stopping.set)
    try:
        await application.initialize()
        if application.post_init:
            await application.post_init(application)
        server = WebhookServer(application, secret, runtime_in(application).engine)
        await server.listen(port, listen)
        try:
            await application.bot.set_webhook(
                url=webhook_url, allowed_updates=ALLOWED_UPDATES, drop_pending_updates=False, secret_token=secret
            )
            await application.start()
            log.info("webhook server listening on %s:%d", listen, port)
            await stopping.wait()
        finally:
            await server.stop()
    finally:
        if application.running:
            await application.stop()
            if application.post_stop:
                await application.post_stop(application)
        await application.shutdown()
        if application.post_shutdown:
            await application.post_shutdown(application)
        for signum in STOP_SIGNALS:
            loop.remove_signal_handler(signum)


class WebhookServer:
    """A tornado HTTP server for one application; `listen` to start, `stop` to end."""

    def __init__(self, application: Application, secret: str, engine: AsyncEngine):
        self._receiving = 0
        self._received = asyncio.Event()
        self._received.set()
        self.health = Health(engine)
        routes = [
            (f"{PATH}/?", UpdateHandler, {"intake": application, "secret": secret.encode(), "server": self}),
            (HEALTH_PATH, HealthHandler, {"health": self.health}),
        ]
        self._http = HTTPServer(_Quiet(routes), max_body_size=MAX_BODY, body_timeout=BODY_WITHIN)

    async def listen(self, port: int, address: str) -> None:
        self._http.listen(port, address=address)

    async def stop(self) -> None:
        """No new connections; updates being received are queued (for up to DRAIN_WITHIN); then all closed."""
        self._http.stop()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._received.wait(), DRAIN_WITHIN)
        await self._http.close_all_connections()
        await self.health.close()

    @contextlib.asynccontextmanager
    async def receiving(self) -> AsyncIterator[None]:
        self._receiving += 1
        self._received.clear()
        try:
            yield
        finally:
            self._receiving -= 1
            if not self._receiving:
                self._received.set()


class _Quiet(tornado.web.Application):
    def log_request(self, handler: tornado.web.RequestHandler) -> None:
        """No access log: a load balancer's health checks every few seconds would drown everything else."""


@tornado.web.stream_request_body
class UpdateHandler(tornado.web.RequestHandler):
    """POST /telegram. The secret token is checked as soon as the headers are in: without it the body is read
    and thrown away unparsed (closing with unread data would cut the 403 off), then 403. A body over MAX_BODY
    ends in 400 and a closed connection (tornado's own limit)."""

    SUPPORTED_METHODS = ("POST",)

    def initialize(self, intake: Application, secret: bytes, server: WebhookServer) -> None:
        self.bot, self.queue = intake.bot, intake.update_queue
        self.secret = secret
        self.server = server
        self.body = bytearray()
        self.signed = False

    def prepare(self) -> None:
        token = self.request.headers.get(SECRET_HEADER, "").encode()
        self.signed = hmac.compare_digest(token, self.secret)

    def data_received(self, chunk: bytes) -> None:
        if self.signed:
            self.body += chunk

    async def post(self) -> None:
        if not self.signed:
            log.debug("a webhook request without the right secret token was refused")
            self.send_error(HTTPStatus.FORBIDDEN)
            return
        update = self._update()
        if update is None:
            self.send_error(HTTPStatus.BAD_REQUEST)
            return
        async with self.server.receiving():
            await self.queue.put(update)
        self.set_status(HTTPStatus.OK)
        self.finish()

    def _update(self) -> Update | None:
        try:
            data = json.loads(self.body)
        except ValueError:
            return None
        if not isinstance(data, dict) or type(data.get("update_id")) is not int:
            return None
        try:
            return Update.de_json(data, self.bot)
        except Exception:  # whatever does not fit Telegram's Update is not from Telegram
            return None

    def write_error(self, status_code: int, **kwargs) -> None:
        """The status alone: nothing about why."""
        self.finish()


class HealthHandler(tornado.web.RequestHandler):
    """GET /healthz: 200 "ok", or 503 and one line saying what is wrong (no secrets, no counts)."""

    SUPPORTED_METHODS = ("GET",)

    def initialize(self, health: Health) -> None:
        self.health = health

    async def get(self) -> None:
        problem = await self.health.problem()
        self.set_header("Content-Type", "text/plain; charset=utf-8")
        self.set_header("Cache-Control", "no-store")
        if problem is not None:
            self.set_status(HTTPStatus.SERVICE_UNAVAILABLE)
        self.finish((problem or "ok") + "\n")


class Health:
    """Whether this instance can work: the database answers, and its schema is at the newest migration this
    version has (an older schema lacks what the code uses; a newer one means a newer version migrated it).

    One check runs at a time, however many requests ask; a check still running after HEALTH_WITHIN is
    reported as no answer and left to end by the engine's own time-outs rather than cancelled."""

    def __init__(self, engine: AsyncEngine):
        self.engine = engine
        scripts = ScriptDirectory.from_config(alembic_config())
        self.expected = frozenset(scripts.get_heads())
        self.known = frozenset(script.revision for script in scripts.walk_revisions())
        self._check: asyncio.Task[str | None] | None = None

    async def problem(self) -> str | None:
        if self._check is None or self._check.done():
            self._check = asyncio.get_running_loop().create_task(self._problem(), name="health-check")
        done, _ = await asyncio.wait({self._check}, timeout=HEALTH_WITHIN)
        if not done:
            return f"the database did not answer within {HEALTH_WITHIN:g} seconds"
        return self._check.result()

    async def _problem(self) -> str | None:
        try:
            async with self.engine.connect() as connection:
                await connection.execute(text("SELECT 1"))
                current = await connection.run_sync(lambda sync: MigrationContext.configure(sync).get_current_heads())
        except Exception as error:
            if database_unavailable(error):
                return f"the database is unreachable ({type(error).__name__})"
            log.warning("health check: the database failed (%s)", type(error).__name__)
            return f"the database failed ({type(error).__name__})"
        if not current:
            return "the database has no schema: run `tipbot db upgrade`"
        if frozenset(current) == self.expected:
            return None
        now, needed = ", ".join(sorted(current)), ", ".join(sorted(self.expected))
        if frozenset(current) <= self.known:
            return f"the schema is at migration {now}, this version needs {needed}: run `tipbot db upgrade`"
        return f"the schema is at migration {now}, newer than this version knows ({needed}): update this instance"

    async def close(self) -> None:
        """At the end: a check still waiting on the database is not waited for."""
        if self._check is not None and not self._check.done():
            self._check.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._check
