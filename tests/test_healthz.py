"""The webhook server in the process (bot/telegram/webhook.py): /healthz tells a load balancer whether this
instance can work, and /telegram takes an update only with the secret, answering once it is queued. Then the
deployment that relies on them: compose.yaml and deploy/Caddyfile (README, "Running several instances")."""

from __future__ import annotations

import asyncio
import contextlib
import re
import shutil
import subprocess
import sys
from collections.abc import AsyncIterator
from types import SimpleNamespace

import aiohttp
import pytest
import yaml
from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.engine import Connection

from bot.runtime import Runtime
from bot.telegram.app import build_application, replay_intake
from bot.telegram.webhook import HEALTH_WITHIN, MAX_BODY, SECRET_HEADER, WebhookServer
from storage.database import alembic_config, create_engine, upgrade

from .cli import ROOT
from .fakebotapi import FakeBotAPI, FakeUser
from .harness import bot_settings
from .test_e2e_process import free_port

SECRET = "the-webhook-secret_0123456789abcdef"
USER = FakeUser(id=7900001, first_name="Aziz", language_code="uz")
SCRIPTS = ScriptDirectory.from_config(alembic_config())
HEAD = SCRIPTS.get_current_head()
PREVIOUS = SCRIPTS.get_revision(HEAD).down_revision


@contextlib.asynccontextmanager
async def serving(application, engine) -> AsyncIterator[str]:
    server = WebhookServer(application, SECRET, engine)
    port = free_port()
    await server.listen(port, "127.0.0.1")
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await server.stop()


async def health(base: str) -> tuple[int, str]:
    async with aiohttp.ClientSession() as client, client.get(f"{base}/healthz") as answer:
        return answer.status, await answer.text()


def unstarted(make_settings, **settings):
    """An application that is never initialized: enough to serve /healthz and to queue updates."""
    return build_application(make_settings(token=FakeBotAPI.token, **settings))


def stamp(revision: str):
    def run(connection: Connection) -> None:
        config = alembic_config()
        config.attributes["connection"] = connection
        command.stamp(config, revision, purge=True)

    return run


async def test_healthz_is_ok_on_a_current_database(make_settings, database_url):
    engine = create_engine(database_url)
    await upgrade(engine)
    try:
        async with serving(unstarted(make_settings), engine) as base:
            assert await health(base) == (200, "ok\n")
    finally:
        await engine.dispose()


async def test_healthz_is_503_while_a_migration_is_missing_and_ok_once_done(make_settings, database_url):
    engine = create_engine(database_url)
    try:
        async with serving(unstarted(make_settings), engine) as base:
            assert await health(base) == (503, "the database has no schema: run `tipbot db upgrade`\n")
            await upgrade(engine)
            async with engine.begin() as connection:
                await connection.run_sync(stamp(PREVIOUS))
            behind = f"the schema is at migration {PREVIOUS}, this version needs {HEAD}: run `tipbot db upgrade`\n"
            assert await health(base) == (503, behind)
            async with engine.begin() as connection:
                await connection.execute(text("UPDATE alembic_version SET version_num = '9999'"))
            status, reason = await health(base)
            assert status == 503 and "newer than this version knows" in reason and "update this instance" in reason
            async with engine.begin() as connection:
                await connection.run_sync(stamp(HEAD))
            assert await health(base) == (200, "ok\n")
    finally:
        await engine.dispose()


async def test_healthz_is_503_when_the_database_refuses_and_names_no_secret(make_settings):
    engine = create_engine(f"postgresql+asyncpg://tipbot:hunter2-password@127.0.0.1:{free_port()}/tipbot")
    try:
        async with serving(unstarted(make_settings), engine) as base:
            status, reason = await health(base)
    finally:
        await engine.dispose()
    assert status == 503 and reason.startswith("the database is unreachable (")
    assert "hunter2" not in reason and "tipbot@" not in reason and reason.count("\n") == 1


async def test_healthz_answers_503_within_the_limit_when_the_database_is_silent(make_settings):
    """A partition: the server accepts connections and says nothing. Checks asked at once share one attempt."""
    accepted: list[asyncio.StreamWriter] = []

    async def say_nothing(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        accepted.append(writer)

    silent = await asyncio.start_server(say_nothing, "127.0.0.1", 0)
    port = silent.sockets[0].getsockname()[1]
    engine = create_engine(f"postgresql+asyncpg://tipbot:pw@127.0.0.1:{port}/tipbot")
    try:
        async with serving(unstarted(make_settings), engine) as base:
            loop = asyncio.get_running_loop()
            started = loop.time()
            answers = await asyncio.gather(*(health(base) for _ in range(5)))
            took = loop.time() - started
            expected = f"the database did not answer within {HEALTH_WITHIN:g} seconds\n"
            assert answers == [(503, expected)] * 5
            assert HEALTH_WITHIN <= took < HEALTH_WITHIN + 1.5
            assert len(accepted) == 1
    finally:
        await engine.dispose()
        for writer in accepted:
            writer.close()
        silent.close()


async def post(base: str, body: bytes, headers: dict[str, str], path: str = "/telegram") -> int:
    async with aiohttp.ClientSession() as client, client.post(f"{base}{path}", data=body, headers=headers) as answer:
        return answer.status


async def test_updates_need_the_secret_before_the_body_is_looked_at(make_settings, tmp_path):
    application = unstarted(make_settings)
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'unused.db'}")
    queue = application.update_queue
    update = b'{"update_id": 5, "message": {"message_id": 1, "date": 0, "chat": {"id": 1, "type": "private"}}}'
    signed = {SECRET_HEADER: SECRET, "Content-Type": "application/json"}
    try:
        async with serving(application, engine) as base:
            assert await post(base, update, {}) == 403
            assert await post(base, update, {SECRET_HEADER: SECRET[:-1]}) == 403
            assert await post(base, update, {SECRET_HEADER: SECRET + "x"}) == 403
            assert await post(base, b"not json at all", {}) == 403  # refused before parsing, not 400
            for garbage in (b"not json", b"[]", b'{"message": {}}', b'{"update_id": "5"}', b'{"update_id": true}'):
                assert await post(base, garbage, signed) == 400, garbage
            assert await post(base, b'{"update_id": 6, "message": "text"}', signed) == 400
            async with aiohttp.ClientSession() as client, client.get(f"{base}/telegram") as answer:
                assert answer.status == 405
            assert queue.qsize() == 0
            assert await post(base, update, signed) == 200
            assert queue.qsize() == 1 and (await queue.get()).update_id == 5
            assert await post(base, update, signed, "/telegram/") == 200  # as PTB's server took it too
            assert queue.qsize() == 1
    finally:
        await engine.dispose()


async def test_a_body_over_the_limit_is_not_taken(make_settings, tmp_path):
    application = unstarted(make_settings)
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'unused.db'}")
    padding = b" " * MAX_BODY
    body = b'{"update_id": 7, "message": {"message_id": 1, "date": 0, "chat": {"id": 1, "type": "private"}}}' + padding
    try:
        async with serving(application, engine) as base:
            try:
                status = await post(base, body, {SECRET_HEADER: SECRET})
            except aiohttp.ClientError:  # the server may close before the client has sent it all
                status = None
            assert status != 200
            assert application.update_queue.qsize() == 0
            assert await health(base) == (503, "the database has no schema: run `tipbot db upgrade`\n")  # still up
    finally:
        await engine.dispose()


async def test_telegram_hears_200_only_once_the_update_is_queued(make_settings, tmp_path):
    """The queue's put records the update in the database (intake.DurableQueue); until it returns, Telegram
    must not be told the update arrived."""
    release = asyncio.Event()
    queued: list[object] = []

    class SlowQueue(asyncio.Queue):
        async def put(self, item) -> None:
            await release.wait()
            queued.append(item)

    application = unstarted(make_settings)
    standin = SimpleNamespace(bot=application.bot, update_queue=SlowQueue())
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'unused.db'}")
    update = b'{"update_id": 8, "message": {"message_id": 1, "date": 0, "chat": {"id": 1, "type": "private"}}}'
    try:
        async with serving(standin, engine) as base:
            answering = asyncio.create_task(post(base, update, {SECRET_HEADER: SECRET}))
            await asyncio.sleep(0.5)
            assert not answering.done() and queued == []
            release.set()
            assert await answering == 200
            assert [item.update_id for item in queued] == [8]
    finally:
        await engine.dispose()


async def test_a_stopping_server_answers_the_updates_it_is_receiving(make_settings, tmp_path):
    """SIGTERM while Telegram's request waits for its record: it still hears 200, so the update is not sent
    again to another instance; a request after the stop finds nothing listening."""
    release = asyncio.Event()

    class SlowQueue(asyncio.Queue):
        async def put(self, item) -> None:
            await release.wait()
            await super().put(item)

    standin = SimpleNamespace(bot=unstarted(make_settings).bot, update_queue=SlowQueue())
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'unused.db'}")
    update = b'{"update_id": 9, "message": {"message_id": 1, "date": 0, "chat": {"id": 1, "type": "private"}}}'
    server = WebhookServer(standin, SECRET, engine)
    port = free_port()
    await server.listen(port, "127.0.0.1")
    base = f"http://127.0.0.1:{port}"
    try:
        answering = asyncio.create_task(post(base, update, {SECRET_HEADER: SECRET}))
        await asyncio.sleep(0.3)
        stopping = asyncio.create_task(server.stop())
        await asyncio.sleep(0.3)
        assert not stopping.done()
        release.set()
        assert await answering == 200
        await stopping
        assert standin.update_queue.qsize() == 1
        with pytest.raises(aiohttp.ClientConnectionError):
            await post(base, update, {SECRET_HEADER: SECRET})
    finally:
        await engine.dispose()


async def test_an_update_posted_is_handled(make_settings, database_url):
    async with FakeBotAPI() as api:
        settings = bot_settings(make_settings, api, database_url=database_url)
        runtime = await Runtime.open(settings)
        application = build_application(settings, runtime)
        await application.initialize()
        await application.start()
        await replay_intake(application)
        try:
            async with serving(application, runtime.engine) as base:
                assert await health(base) == (200, "ok\n")
                update = api.send_command(USER, "/start")
                async with aiohttp.ClientSession() as client:
                    async with client.post(f"{base}/telegram", json=update) as refused:
                        assert refused.status == 403
                    async with client.post(f"{base}/telegram", json=update, headers={SECRET_HEADER: SECRET}) as taken:
                        assert taken.status == 200
                picker = await api.wait_for_message(USER.id, lambda m: bool(m.buttons()))
                assert picker.button_texts()[0] == "O‘zbekcha"
                assert len(api.sent_to(USER.id)) == 1
        finally:
            await application.stop()
            await application.shutdown()
            await application.update_queue.forgotten()
            await runtime.close()
        assert api.calls_to("getUpdates") == []  # it came by webhook, not by polling


@pytest.mark.parametrize("path", ["/", "/healthz/", "/telegram/x", "/admin"])
async def test_nothing_else_is_served(make_settings, tmp_path, path):
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'unused.db'}")
    try:
        async with (
            serving(unstarted(make_settings), engine) as base,
            aiohttp.ClientSession() as client,
            client.get(f"{base}{path}") as answer,
        ):
            assert answer.status == 404
            assert SECRET not in await answer.text()
    finally:
        await engine.dispose()


COMPOSE = yaml.safe_load((ROOT / "compose.yaml").read_text())
SERVICES = COMPOSE["services"]
INSTANCES = sorted(name for name, service in SERVICES.items() if "TIPBOT_WEBHOOK_URL" in service.get("environment", {}))
CADDYFILE = (ROOT / "deploy" / "Caddyfile").read_text()
SHARED = ("TIPBOT_TOKEN", "TIPBOT_SECRET_KEY", "TIPBOT_WEBHOOK_SECRET", "TIPBOT_DATABASE_URL", "TIPBOT_WEBHOOK_URL")


def test_compose_runs_two_identical_webhook_instances_after_the_migration():
    assert INSTANCES == ["tipbot-1", "tipbot-2"]
    first, second = (SERVICES[name] for name in INSTANCES)
    assert first == second
    instance = first
    assert instance["build"] == "." and "command" not in instance  # the Dockerfile's `tipbot run`
    environment = instance["environment"]
    for name in SHARED:  # the same for both, and from .env: no value is written here
        assert "${" in environment[name], name
    assert environment["TIPBOT_WEBHOOK_URL"].endswith("/telegram") and environment["TIPBOT_LISTEN"] == "0.0.0.0"
    assert instance["depends_on"] == {
        "postgres": {"condition": "service_healthy"},
        "migrate": {"condition": "service_completed_successfully"},
    }
    migrate = SERVICES["migrate"]
    assert migrate["command"] == ["db", "upgrade"] and migrate["restart"] == "no"
    assert migrate["image"] == instance["image"] and migrate["build"] == "."
    assert migrate["environment"]["TIPBOT_DATABASE_URL"] == environment["TIPBOT_DATABASE_URL"]
    assert migrate["depends_on"] == {"postgres": {"condition": "service_healthy"}}


def test_compose_keeps_postgres_on_a_volume_and_checks_every_service():
    postgres = SERVICES["postgres"]
    volume, mount = postgres["volumes"][0].split(":")
    assert mount == "/var/lib/postgresql/data" and volume in COMPOSE["volumes"]
    assert "pg_isready" in " ".join(postgres["healthcheck"]["test"])
    port = SERVICES["tipbot-1"]["environment"]["TIPBOT_PORT"]
    assert f"127.0.0.1:{port}/healthz" in " ".join(SERVICES["tipbot-1"]["healthcheck"]["test"])
    assert SERVICES["caddy"]["depends_on"] == INSTANCES and "443:443" in SERVICES["caddy"]["ports"]


def test_caddy_balances_updates_over_both_instances_and_checks_their_health():
    port = SERVICES["tipbot-1"]["environment"]["TIPBOT_PORT"]
    assert "./deploy/Caddyfile:/etc/caddy/Caddyfile:ro" in SERVICES["caddy"]["volumes"]
    upstreams = re.search(r"^\s*reverse_proxy ([^{]+)\{", CADDYFILE, re.MULTILINE).group(1).split()
    assert upstreams == [f"{name}:{port}" for name in INSTANCES]
    assert re.search(r"^\s*health_uri /healthz$", CADDYFILE, re.MULTILINE)
    assert re.search(r"^\s*method POST$", CADDYFILE, re.MULTILINE)
    assert re.search(r"^\s*path /telegram$", CADDYFILE, re.MULTILINE)
    size = re.search(r"max_size (\d+)MB", CADDYFILE).group(1)
    assert int(size) * 1000 * 1000 <= MAX_BODY
    assert "{$TIPBOT_DOMAIN}" in CADDYFILE


def test_every_value_compose_requires_is_in_env_example_and_env_is_never_committed():
    required = set(re.findall(r"\$\{(\w+):\?", (ROOT / "compose.yaml").read_text()))
    example = dict(
        line.split("=", 1) for line in (ROOT / ".env.example").read_text().splitlines() if re.match(r"\w+=", line)
    )
    assert required == set(example) and all(value == "" for value in example.values())
    assert ".env" in (ROOT / ".gitignore").read_text().splitlines()


async def test_the_instances_docker_health_check_fails_on_503_and_passes_on_ok(make_settings, database_url):
    """The compose health check's own command, pointed at a server here: it fails on 503 and keeps the reason
    (docker records what it prints)."""
    check = SERVICES["tipbot-1"]["healthcheck"]["test"]
    assert check[:3] == ["CMD", "python", "-c"]
    engine = create_engine(database_url)
    try:
        async with serving(unstarted(make_settings), engine) as base:
            code = check[3].replace("http://127.0.0.1:8080", base)
            assert code != check[3]

            async def run_check() -> tuple[int, str]:
                process = await asyncio.create_subprocess_exec(
                    sys.executable, "-c", code, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
                )
                output, _ = await process.communicate()
                return process.returncode, output.decode()

            assert await run_check() == (1, "the database has no schema: run `tipbot db upgrade`\n\n")
            await upgrade(engine)
            assert await run_check() == (0, "ok\n\n")
    finally:
        await engine.dispose()


@pytest.mark.skipif(shutil.which("caddy") is None, reason="caddy is not installed (apt-get install caddy)")
def test_caddy_accepts_the_caddyfile():
    checked = subprocess.run(
        ["caddy", "validate", "--config", "deploy/Caddyfile", "--adapter", "caddyfile"],
        cwd=ROOT,
        env={"TIPBOT_DOMAIN": "tips.example.org", "PATH": "/usr/bin:/bin:/usr/local/bin", "HOME": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert checked.returncode == 0 and "Valid configuration" in checked.stdout + checked.stderr, checked.stderr


@pytest.mark.skipif(shutil.which("docker-compose") is None, reason="docker-compose is not installed")
def test_docker_compose_accepts_the_compose_file(tmp_path):
    (tmp_path / "compose.yaml").write_text((ROOT / "compose.yaml").read_text())
    values = {"TIPBOT_SECRET_KEY": "k" * 43, "TIPBOT_DOMAIN": "tips.example.org", "TIPBOT_TOKEN": "1:x"}
    example = (ROOT / ".env.example").read_text()
    filled = re.sub(r"^(\w+)=$", lambda line: f"{line[1]}={values.get(line[1], 'x1')}", example, flags=re.M)
    (tmp_path / ".env").write_text(filled)
    command = ["docker-compose", "config", "-q"]
    checked = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert checked.returncode == 0, checked.stderr
