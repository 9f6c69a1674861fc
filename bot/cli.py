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
from .privacy.keys import SecretKeyError

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
    listing = flow_commands.add_parser("list", help="list the flows the bot uses")
    listing.set_defaults(handler=_flows_list)

    db = commands.add_parser("db", help="database")
    db_commands = db.add_subparsers(title="database commands")
    db_upgrade = db_commands.add_parser("upgrade", help="apply schema migrations")
    db_upgrade.set_defaults(handler=_db_upgrade)
    return parser


def _run(settings: Settings, _args: argparse.Namespace) -> int:
    if settings.token is None:
        print(NO_TOKEN_NOTE, file=sys.stderr)
        return _try(settings, argparse.Namespace(lang=None))
    from .telegram.app import ALLOWED_UPDATES, build_application

    application = build_application(settings)
    if settings.webhook_url:
        secret = settings.webhook_secret.get_secret_value() if settings.webhook_secret else None
        application.run_webhook(
            listen="0.0.0.0",
            port=settings.port,
            url_path="telegram",
            webhook_url=settings.webhook_url,
            secret_token=secret,
            allowed_updates=ALLOWED_UPDATES,
        )
    else:
        application.run_polling(allowed_updates=ALLOWED_UPDATES)
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
    if not settings.staff_chat_ids:
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
        finally:
            await runtime.close()
        print(f"deleted {removed} report(s) older than {settings.retention_days} days (kept ones stay)")
        return 0

    return asyncio.run(go())


def _flows_validate(_settings: Settings, args: argparse.Namespace) -> int:
    from .flows.loader import FlowError, load_flow_file

    failed = False
    for path in args.files:
        try:
            flow = load_flow_file(path)
        except FlowError as error:
            failed = True
            print(error)
            continue
        print(
            f"{path}: ok: flow '{flow.id}' version {flow.version}, {len(flow.questions)} questions, "
            f"languages {', '.join(flow.languages)}"
        )
    return 1 if failed else 0


def _flows_list(_settings: Settings, _args: argparse.Namespace) -> int:
    from .flows.catalog import FlowCatalog

    flow = FlowCatalog.shipped().active
    print(f"{flow.id}\tversion {flow.version}\t{len(flow.questions)} questions\t{flow.text(flow.title, 'en')}")
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
