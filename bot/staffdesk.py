"""What staff can do with tips, independent of Telegram: look at them, set their status, keep them past
retention, write notes, write to the reporter, export and count. Every action is written to the audit log
(staff id, action, tip id, time: never reporter data): a change in the same transaction as its audit row, a
look before it is shown, so nothing happens unaudited. Authorisation is the caller's job: the Telegram
handlers check it on every call before they come here."""

from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from storage.repository import OPEN_STATUSES, STATUSES, AuditRecord, StoredFile

from .collation import sort_key
from .digest.build import country_of, render_tip
from .digest.charts import render_chart
from .digest.export import export_csv, export_xlsx
from .flows.catalog import FlowCatalog
from .flows.dates import DateError, parse_period
from .i18n import gettext_for, pgettext_for
from .runtime import Runtime

LIST_LIMIT = 50


def status_name(status: str, lang: str) -> str:
    """A tip's status on its own: "Status: reviewing", "Report 1a2b3c4d is now: closed"."""
    pgettext = pgettext_for(lang)
    return {
        "new": pgettext("status", "new"),
        "reviewing": pgettext("status", "reviewing"),
        "verified": pgettext("status", "verified"),
        "closed": pgettext("status", "closed"),
    }[status]


def status_heading(status: str, lang: str) -> str:
    """The same status heading a count in /stats ("new: 3"), where many languages need another form."""
    pgettext = pgettext_for(lang)
    return {
        "new": pgettext("count", "new"),
        "reviewing": pgettext("count", "reviewing"),
        "verified": pgettext("count", "verified"),
        "closed": pgettext("count", "closed"),
    }[status]


@dataclass
class DeskAnswer:
    """What to send back: texts, then the tip's files as albums, then documents and a picture."""

    texts: list[str] = field(default_factory=list)
    files: list[tuple[str, int, StoredFile]] = field(default_factory=list)
    documents: list[tuple[str, bytes]] = field(default_factory=list)
    picture: bytes | None = None


class StaffDesk:
    def __init__(self, runtime: Runtime):
        self.runtime = runtime

    def _record(self, staff_id: int, action: str, tip_id: str) -> AuditRecord:
        """The audit row a change carries into its own transaction."""
        return AuditRecord(staff_id, action, tip_id, datetime.now(self.runtime.settings.tz))

    async def _audit(self, staff_id: int, action: str, tip_id: str | None = None) -> None:
        """For actions that only read: the row is written before anything is read."""
        now = datetime.now(self.runtime.settings.tz)
        await self.runtime.repository.audit(staff_id, action, tip_id, now)

    async def _flows(self) -> FlowCatalog:
        """The questionnaires, with versions published on another instance or from the command line: a report may
        have been filed on one of them."""
        await self.runtime.flows.fresh()
        return self.runtime.flows

    async def _resolve(self, prefix: str, lang: str) -> str | DeskAnswer:
        _ = gettext_for(lang)
        found = await self.runtime.repository.find_tip_ids(prefix)
        if len(found) == 1:
            return found[0]
        if not found:
            return DeskAnswer([_("No report {id}.").format(id=prefix.strip()[:32])])
        return DeskAnswer([_("Several reports start with {id}: type more of the number.").format(id=prefix.strip())])

    async def tip(self, staff_id: int, prefix: str, lang: str) -> DeskAnswer:
        tip_id = await self._resolve(prefix, lang)
        if isinstance(tip_id, DeskAnswer):
            return tip_id
        _ = gettext_for(lang)
        await self._audit(staff_id, "view", tip_id)
        tip = await self.runtime.repository.get_tip(tip_id)
        if tip is None:  # deleted meanwhile, or it does not decrypt
            return DeskAnswer([_("No report {id}.").format(id=prefix.strip()[:32])])
        lines = [render_tip(tip, (await self._flows()).get(tip.flow_id, tip.flow_version), lang), ""]
        lines.append(_("Status: {status}").format(status=status_name(tip.status, lang)))
        if tip.keep:
            lines.append(_("Kept beyond the retention period."))
        for note in await self.runtime.records.notes(tip_id):
            lines.append(
                _("📝 Note ({date}): {text}").format(date=note.created_on.strftime("%d.%m.%Y"), text=note.text)
            )
        files = [(tip_id, n, file) for n, file in enumerate(tip.files, start=1)]
        for exchange in await self.runtime.records.exchanges(tip_id):
            who = _("Staff") if exchange.sender == "staff" else _("Reporter")
            day = exchange.created_on.strftime("%d.%m.%Y")
            lines.append(f"💬 {who} ({day}): {exchange.text}".rstrip())
            base = len(files)
            files.extend((tip_id, base + n, file) for n, file in enumerate(exchange.files, start=1))
        return DeskAnswer(["\n".join(lines)], files=files)

    async def tips(self, staff_id: int, which: str, lang: str) -> DeskAnswer:
        _ = gettext_for(lang)
        statuses = {"new": ("new",), "open": OPEN_STATUSES, "all": None}.get(which or "open", "?")
        if statuses == "?":
            return DeskAnswer([_("Use: /tips new, /tips open or /tips all")])
        await self._audit(staff_id, "list")
        tips = await self.runtime.repository.list_tips(statuses, LIST_LIMIT)  # type: ignore[arg-type]
        if not tips:
            return DeskAnswer([_("No reports.")])
        lines, flows = [], await self._flows()
        for tip in tips:
            where = country_of(tip, flows, lang) or ""
            mark = "🔴 " if tip.urgent else ""
            day = tip.created_on.strftime("%d.%m.%Y")
            lines.append(f"{mark}{tip.short_id} · {day} · {status_name(tip.status, lang)} · {where}".rstrip(" ·"))
        return DeskAnswer(["\n".join(lines)])

    async def set_status(self, staff_id: int, prefix: str, status: str, lang: str) -> DeskAnswer:
        _ = gettext_for(lang)
        if status not in STATUSES:
            return DeskAnswer([_("Use: /status NUMBER new|reviewing|verified|closed")])
        tip_id = await self._resolve(prefix, lang)
        if isinstance(tip_id, DeskAnswer):
            return tip_id
        await self.runtime.repository.set_status(tip_id, status, self._record(staff_id, f"status:{status}", tip_id))
        return DeskAnswer([_("Report {id} is now: {status}").format(id=tip_id[:8], status=status_name(status, lang))])

    async def keep(self, staff_id: int, prefix: str, keep: bool, lang: str) -> DeskAnswer:
        _ = gettext_for(lang)
        tip_id = await self._resolve(prefix, lang)
        if isinstance(tip_id, DeskAnswer):
            return tip_id
        audit = self._record(staff_id, "keep" if keep else "unkeep", tip_id)
        await self.runtime.repository.set_keep(tip_id, keep, audit)
        if keep:
            return DeskAnswer([_("Report {id} is kept beyond the retention period.").format(id=tip_id[:8])])
        return DeskAnswer(
            [_("Report {id} will be deleted with the others at the end of the retention period.").format(id=tip_id[:8])]
        )

    async def note(self, staff_id: int, prefix: str, text: str, lang: str) -> DeskAnswer:
        _ = gettext_for(lang)
        if not text.strip():
            return DeskAnswer([_("Use: /note NUMBER text")])
        tip_id = await self._resolve(prefix, lang)
        if isinstance(tip_id, DeskAnswer):
            return tip_id
        audit = self._record(staff_id, "note", tip_id)
        await self.runtime.records.add_note(tip_id, staff_id, text.strip(), self.runtime.today(), audit)
        return DeskAnswer([_("Note added to report {id}.").format(id=tip_id[:8])])

    async def reply(self, staff_id: int, prefix: str, text: str, lang: str) -> DeskAnswer:
        _ = gettext_for(lang)
        if not text.strip():
            return DeskAnswer([_("Use: /reply NUMBER text")])
        tip_id = await self._resolve(prefix, lang)
        if isinstance(tip_id, DeskAnswer):
            return tip_id
        audit = self._record(staff_id, "reply", tip_id)
        await self.runtime.records.add_exchange(tip_id, "staff", text.strip(), self.runtime.today(), audit=audit)
        return DeskAnswer(
            [
                _(
                    "Saved for report {id}. The reporter sees it when they check their report with the receipt code."
                ).format(id=tip_id[:8])
            ]
        )

    async def export(self, staff_id: int, since: str, lang: str) -> DeskAnswer:
        _ = gettext_for(lang)
        today = self.runtime.today()
        start = date(2000, 1, 1)
        if since.strip():
            try:
                start = parse_period(since.strip(), today).start
            except DateError:
                return DeskAnswer([_("Use: /export or /export since 01.09.2026")])
        await self._audit(staff_id, "export")
        tips = await self.runtime.repository.tips_since(start, files=False)
        if not tips:
            return DeskAnswer([_("No reports.")])
        flows = await self._flows()
        csv_data = await asyncio.to_thread(export_csv, tips, flows, lang)
        xlsx_data = await asyncio.to_thread(export_xlsx, tips, flows, lang)
        name = f"tips-since-{start.isoformat()}"
        text = _("Reports exported: {count}").format(count=len(tips))
        return DeskAnswer([text], documents=[(f"{name}.csv", csv_data), (f"{name}.xlsx", xlsx_data)])

    async def stats(self, staff_id: int, lang: str) -> DeskAnswer:
        _ = gettext_for(lang)
        repository, flows, today = self.runtime.repository, await self._flows(), self.runtime.today()
        await self._audit(staff_id, "stats")
        tips = await repository.list_tips(None, limit=1_000_000)
        statuses = Counter(tip.status for tip in tips)
        countries = Counter(country_of(tip, flows, lang) or "—" for tip in tips)
        lines = [
            _("Reports: {count}").format(count=len(tips)),
            _("🔴 Urgent: {count}").format(count=sum(tip.urgent for tip in tips)),
            ", ".join(f"{status_heading(status, lang)}: {statuses[status]}" for status in STATUSES),
        ]
        if countries:
            ranked = sorted(countries.items(), key=lambda item: (-item[1], sort_key(item[0], lang)))
            lines.append(_("By country: {list}").format(list=", ".join(f"{k}: {v}" for k, v in ranked)))
        recent = [tip for tip in tips if tip.created_on >= today - timedelta(days=13)]
        chart = await asyncio.to_thread(render_chart, recent, flows, lang, today, 14)
        return DeskAnswer(["\n".join(lines)], picture=chart)
