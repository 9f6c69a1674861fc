"""The `tipbot` command: run the bot, try the questionnaire, send or print the digest, manage flows."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence
from pathlib import Path

from .config import ConfigError, Settings, load_settings
from .i18n import LANGUAGES
from .logs import configure_logging
from .privacy.keys import SecretKeyError, load_secret, load_webhook_secret

NO_TOKEN_NOTE = """\
TIPBOT_TOKEN is not set, so the questionnaire starts here in the terminal (`tipbot try`).
To connect to Telegram: create a bot with @BotFather, then run `TIPBOT_TOKEN=... make run`
(see README.md, "Connect to Telegram").
"""


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if not getattr(args, "handler", None):
        parser.print_help()
        return 2
    try:
        settings = load_settings()
        secrets = (settings.token.get_secret_value(),) if settings.token else ()
        configure_logging(settings.log_level, secrets)
        return args.handler(settings, args)
    except (ConfigError, SecretKeyError) as error:
        print(f"tipbot: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tipbot", description=__doc__)
    commands = parser.add_subparsers(title="commands")

    run = commands.add_parser("run", help="run the bot (polling, or webhook when TIPBOT_WEBHOOK_URL is set)")
    run.set_defaults(handler=_run)

    try_ = commands.add_parser("try", help="answer the questionnaire in the terminal")
    try_.add_argument("--lang", choices=LANGUAGES, help="skip the language question")
    try_.set_defaults(handler=_try)

    digest = commands.add_parser("digest", help="send the staff digest now, or print it")
    mode = digest.add_mutually_exclusive_group(required=True)
    mode.add_argument("--send", action="store_true", help="send undigested tips to the staff chats")
    mode.add_argument("--print", action="store_true", help="print undigested tips; marks nothing")
    digest.set_defaults(handler=_digest)

    export = commands.add_parser("export", help="write all reports (or those since a day) as CSV and XLSX")
    export.add_argument("--since", help="first day, e.g. 01.09.2026")
    export.add_argument("--lang", choices=LANGUAGES, help="language of the column names (default: staff language)")
    export.add_argument("--out", type=Path, default=Path("."), help="folder to write into (default: here)")
    export.set_defaults(handler=_export)

    purge = commands.add_parser("purge", help="delete reports past TIPBOT_RETENTION_DAYS (and stale drafts) now")
    purge.set_defaults(handler=_purge)

    flows = commands.add_parser("flows", help="questionnaire files")
    flow_commands = flows.add_subparsers(title="flow commands")
    validate = flow_commands.add_parser("validate", help="check flow files and list every problem")
    validate.add_argument("files", nargs="+", type=Path)
    validate.set_defaults(handler=_flows_validate)
    listing = flow_commands.add_parser("list", help="flows and their versions; * active, (default)")
    listing.set_defaults(handler=_flows_list)
    importing = flow_commands.add_parser("import", help="store a .yaml or .xlsx flow as a new, inactive version")
    importing.add_argument("file", type=Path)
    importing.add_argument("--publish", action="store_true", help="make it active at once")
    importing.set_defaults(handler=_flows_import)
    publish = flow_commands.add_parser("publish", help="make a version active (default: the newest)")
    publish.add_argument("flow_id")
    publish.add_argument("version", type=int, nargs="?")
    publish.set_defaults(handler=_flows_activate)
    rollback = flow_commands.add_parser("rollback", help="make an earlier version active again")
    rollback.add_argument("flow_id")
    rollback.add_argument("version", type=int)
    rollback.set_defaults(handler=_flows_activate)
    export = flow_commands.add_parser("export", help="write a flow version as YAML (or XLSForm)")
    export.add_argument("flow_id")
    export.add_argument("--version", type=int, help="default: the active (or newest) version")
    export.add_argument("--xlsform", action="store_true", help="write an .xlsx XLSForm instead of YAML")
    export.add_argument("--out", type=Path, help="file to write (default: standard output for YAML)")
    export.set_defaults(handler=_flows_export)
    schema = flow_commands.add_parser("schema", help="print the JSON Schema of the YAML flow format")
    schema.set_defaults(handler=_flows_schema)

    db = commands.add_parser("db", help="database")
    db_commands = db.add_subparsers(title="database commands")
    db_upgrade = db_commands.add_parser("upgrade", help="apply schema migrations")
    db_upgrade.set_defaults(handler=_db_upgrade)
    return parser


def _run(settings: Settings, _args: argparse.Namespace) -> int:
    """Polling, or a webhook server on TIPBOT_LISTEN (behind a reverse proxy) that takes only requests
    carrying the secret token registered with Telegram (any other is answered 403 and dropped) and answers
    a load balancer's health checks (bot/telegram/webhook.py)."""
    if settings.token is None:
        print(NO_TOKEN_NOTE, file=sys.stderr)
        return _try(settings, argparse.Namespace(lang=None))
    from .telegram.app import ALLOWED_UPDATES, build_application
    from .telegram.webhook import run_webhook

    key = settings.secret_key.get_secret_value() if settings.secret_key else None
    load_secret(key, settings.data_dir)  # an unsafe key file stops the start with one line, before going online
    if not settings.webhook_url:
        build_application(settings).run_polling(allowed_updates=ALLOWED_UPDATES)
        return 0
    configured = settings.webhook_secret.get_secret_value() if settings.webhook_secret else None
    secret = load_webhook_secret(configured, settings.data_dir)
    configure_logging(settings.log_level, (settings.token.get_secret_value(), secret))
    run_webhook(
        build_application(settings),
        listen=settings.listen,
        port=settings.port,
        webhook_url=settings.webhook_url,
        secret=secret,
    )
    return 0


def _try(settings: Settings, args: argparse.Namespace) -> int:
    from .runtime import Runtime
    from .terminal import run_terminal

    async def play() -> bool:
        runtime = await Runtime.open(settings)
        try:
            return await run_terminal(runtime, args.lang, sys.stdin, sys.stdout)
        finally:
            await runtime.close()

    return 0 if asyncio.run(play()) else 1


def _digest(settings: Settings, args: argparse.Namespace) -> int:
    from .digest.build import build_digest, no_new_tips
    from .runtime import Runtime

    async def go() -> int:
        runtime = await Runtime.open(settings)
        try:
            if args.print:
                tips = await runtime.repository.pending_tips()
                lang = settings.staff_language
                if not tips:
                    print(no_new_tips(lang))
                    return 0
                digest = build_digest(tips, runtime.flows, lang, runtime.today())
                print(digest.header)
                for entry in digest.entries:
                    print("\n" + "\n".join(entry.texts))
                return 0
            return await _send_digest_now(settings, runtime)
        finally:
            await runtime.close()

    return asyncio.run(go())


async def _send_digest_now(settings: Settings, runtime) -> int:
    if settings.token is None:
        print("tipbot: invalid setting TIPBOT_TOKEN: needed to send the digest", file=sys.stderr)
        return 2
    if not await runtime.staff_chat_ids():
        print("tipbot: invalid setting TIPBOT_STAFF_CHAT_IDS: no staff chat to send to", file=sys.stderr)
        return 2
    from telegram.ext import AIORateLimiter, ExtBot

    from .digest.jobs import run_digest

    bot = ExtBot(
        settings.token.get_secret_value(),
        base_url=settings.api_base_url,
        base_file_url=settings.api_file_url,
        rate_limiter=AIORateLimiter(max_retries=3),
    )
    async with bot:
        report = await run_digest(runtime, bot)
    print(f"digest sent: {sum(report.delivered.values())} tip(s) sent, {report.digested} tip(s) complete")
    return 1 if report.failed_chats else 0


def _export(settings: Settings, args: argparse.Namespace) -> int:
    from datetime import date

    from .digest.export import export_csv, export_xlsx
    from .flows.dates import DateError, parse_period
    from .runtime import Runtime

    async def go() -> int:
        runtime = await Runtime.open(settings)
        try:
            start = date(2000, 1, 1)
            if args.since:
                try:
                    start = parse_period(args.since, runtime.today()).start
                except DateError:
                    print(f"tipbot: cannot read the day '{args.since}' (write e.g. 01.09.2026)", file=sys.stderr)
                    return 2
            tips = await runtime.repository.tips_since(start, files=False)
            lang = args.lang or settings.staff_language
            args.out.mkdir(parents=True, exist_ok=True)
            base = args.out / f"tips-since-{start.isoformat()}"
            base.with_suffix(".csv").write_bytes(export_csv(tips, runtime.flows, lang))
            base.with_suffix(".xlsx").write_bytes(export_xlsx(tips, runtime.flows, lang))
            print(f"{len(tips)} report(s) written to {base}.csv and {base}.xlsx")
            return 0
        finally:
            await runtime.close()

    return asyncio.run(go())


def _purge(settings: Settings, _args: argparse.Namespace) -> int:
    from .digest.jobs import run_retention
    from .runtime import Runtime

    async def go() -> int:
        runtime = await Runtime.open(settings)
        try:
            removed = await run_retention(runtime)
            counters = await runtime.expire_counters()
        finally:
            await runtime.close()
        print(f"deleted {removed} report(s) older than {settings.retention_days} days (kept ones stay)")
        if counters:
            print(f"deleted {counters} rate counter(s) whose window had passed")
        return 0

    return asyncio.run(go())


def _flows_validate(_settings: Settings, args: argparse.Namespace) -> int:
    from .flow_admin import read_flow_file
    from .flows.loader import FlowError, Problem

    failed = False
    for path in args.files:
        try:
            flow = read_flow_file(str(path), path.read_bytes()).flow
        except OSError as error:
            failed = True
            print(Problem(str(path), f"cannot read the file: {error.strerror}"))
            continue
        except FlowError as error:
            failed = True
            print(error)
            continue
        print(
            f"{path}: ok: flow '{flow.id}' version {flow.version}, {len(flow.questions)} questions, "
            f"languages {', '.join(flow.languages)}"
        )
    return 1 if failed else 0


def _with_runtime(settings: Settings, work) -> int:
    """Open the runtime, run `work(runtime)` (async, returning an exit code), close it."""
    from .runtime import Runtime

    async def go() -> int:
        runtime = await Runtime.open(settings)
        try:
            return await work(runtime)
        finally:
            await runtime.close()

    return asyncio.run(go())


def _flows_list(settings: Settings, _args: argparse.Namespace) -> int:
    async def work(runtime) -> int:
        catalog = runtime.flows
        for flow_id in catalog.flow_ids():
            default = " (default)" if flow_id == catalog.default_id else ""
            versions = " ".join(
                f"{'*' if catalog.is_active(flow) else ''}v{flow.version}" for flow in catalog.versions(flow_id)
            )
            title = catalog.versions(flow_id)[-1]
            print(f"{flow_id}{default}\t{versions}\t{title.text(title.title, 'en')}")
        return 0

    return _with_runtime(settings, work)


def _flows_import(settings: Settings, args: argparse.Namespace) -> int:
    from .flow_admin import read_flow_file
    from .flows.loader import FlowError

    try:
        upload = read_flow_file(args.file.name, args.file.read_bytes())
    except OSError as error:
        print(f"tipbot: cannot read {args.file}: {error.strerror}", file=sys.stderr)
        return 2
    except FlowError as error:
        print(error)
        return 1

    async def work(runtime) -> int:
        flow = await runtime.flow_admin.publish(upload, activate=args.publish)
        state = "active" if args.publish else f"not active yet: tipbot flows publish {flow.id} {flow.version}"
        print(f"{flow.id} version {flow.version} stored ({state})")
        return 0

    return _with_runtime(settings, work)


def _flows_activate(settings: Settings, args: argparse.Namespace) -> int:
    async def work(runtime) -> int:
        versions = runtime.flows.versions(args.flow_id)
        if not versions:
            print(f"tipbot: there is no flow '{args.flow_id}' (see tipbot flows list)", file=sys.stderr)
            return 2
        version = args.version or versions[-1].version
        if not await runtime.flow_admin.activate(args.flow_id, version):
            print(f"tipbot: flow '{args.flow_id}' has no version {version}", file=sys.stderr)
            return 2
        print(f"{args.flow_id} version {version} is active; reports already begun finish on their version")
        return 0

    return _with_runtime(settings, work)


def _flows_export(settings: Settings, args: argparse.Namespace) -> int:
    async def work(runtime) -> int:
        catalog = runtime.flows
        versions = catalog.versions(args.flow_id)
        active = [flow for flow in versions if catalog.is_active(flow)]
        chosen = next((f for f in versions if f.version == args.version), None) if args.version else None
        flow = chosen or (active or versions or [None])[-1]
        if flow is None:
            print(f"tipbot: there is no flow '{args.flow_id}' version {args.version or ''}".rstrip(), file=sys.stderr)
            return 2
        if args.xlsform:
            from .flows.xlsform import write_xlsform

            out = args.out or Path(f"{flow.id}-v{flow.version}.xlsx")
            out.write_bytes(write_xlsform(flow))
            print(f"written {out}")
            return 0
        from .flows.export_yaml import flow_to_yaml

        text = flow_to_yaml(flow)
        if args.out:
            args.out.write_text(text, encoding="utf-8")
        else:
            sys.stdout.write(text)
        return 0

    return _with_runtime(settings, work)


def _flows_schema(_settings: Settings, _args: argparse.Namespace) -> int:
    from .flows.schema import schema_text

    sys.stdout.write(schema_text())
    return 0


def _db_upgrade(settings: Settings, _args: argparse.Namespace) -> int:
    from storage.database import create_engine, upgrade

    async def go() -> None:
        engine = create_engine(settings.effective_database_url)
        try:
            await upgrade(engine)
        finally:
            await engine.dispose()

    asyncio.run(go())
    print("database schema is up to date")
    return 0
