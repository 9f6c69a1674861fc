"""Questionnaire versions for admins, independent of Telegram: load them at start (the shipped default on the
very first start), read uploaded files and keep them until an admin decides, publish, roll back, choose the
default, and describe a draft. A change made by an admin takes its audit record, stored in the same
transaction as the change.

Other instances and `tipbot flows` change the same tables, so this is also the catalogue's `FlowSource`: it
looks at the cheap index of versions (and the default) at most every `FRESH_FOR` seconds before a
conversation starts, loads only the versions it has not seen, and finds the flow of a preview begun on
another instance through the upload it came from."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import yaml

from storage.flow_versions import FlowVersions, StoredFlowVersion
from storage.repository import AuditRecord
from storage.staff_records import StaffRecords
from storage.uploads import PendingUploads, StoredUpload

from .flows.catalog import FlowCatalog, content_hash, preview_token
from .flows.loader import DEFAULT_FLOW_DIR, FlowError, Problem, parse_flow, read_flow_yaml
from .flows.model import Flow
from .i18n import gettext_for

DEFAULT_KEY = "default_flow"
MAX_FLOW_FILE = 2 * 1024 * 1024
FRESH_FOR = 2.0
"""Seconds a look at the published versions stays good: a flow published elsewhere is used here this soon."""
Signature = tuple[list[tuple[str, int, bool]], str | None]
"""Every version as (flow id, version, active), and the default flow: what the catalogue must reflect."""


@dataclass(frozen=True)
class FlowUpload:
    """A validated flow file waiting for an admin's decision."""

    raw: dict[str, Any]
    flow: Flow


def read_flow_file(name: str, data: bytes) -> FlowUpload:
    """Parse and validate a .yaml or .xlsx flow file; FlowError lists every problem."""
    if len(data) > MAX_FLOW_FILE:
        raise FlowError([Problem(name, f"the file is larger than {MAX_FLOW_FILE // 1024 // 1024} MB")])
    if name.lower().endswith(".xlsx"):
        from .flows.xlsform import xlsform_to_raw

        raw = xlsform_to_raw(data, name)
    else:
        raw = read_flow_yaml(data, name)
    flow = parse_flow(raw, source=name)
    return FlowUpload(raw, flow)


class FlowAdmin:
    def __init__(
        self,
        versions: FlowVersions,
        records: StaffRecords,
        uploads: PendingUploads,
        catalog: FlowCatalog,
        now: Callable[[], datetime],
        seen: Signature,
    ):
        self.versions = versions
        self.records = records
        self.uploads = uploads
        self.catalog = catalog
        self.now = now
        self._seen = seen
        self._look_after = time.monotonic() + FRESH_FOR
        self._looking = asyncio.Lock()
        catalog.keep_fresh(self)

    @classmethod
    async def load(
        cls, versions: FlowVersions, records: StaffRecords, uploads: PendingUploads, now: Callable[[], datetime]
    ) -> FlowAdmin:
        stored = await versions.all()
        if not stored:
            for path in sorted(DEFAULT_FLOW_DIR.glob("*.yaml")):
                raw = yaml.safe_load(path.read_text(encoding="utf-8"))
                parse_flow(raw, source=str(path))
                await versions.add(raw["id"], raw, content_hash(raw), now().date(), activate=True)
                if await records.state(DEFAULT_KEY) is None:
                    await records.set_state(DEFAULT_KEY, raw["id"])
            stored = await versions.all()
        flows = [_parsed(item) for item in stored]
        active = [(item.flow_id, item.version) for item in stored if item.active]
        default = await records.state(DEFAULT_KEY)
        catalog = FlowCatalog(flows, active, default)
        for item, flow in zip(stored, flows, strict=True):
            catalog.remember_hash(flow, item.content_hash)
        seen = ([(item.flow_id, item.version, item.active) for item in stored], default)
        return cls(versions, records, uploads, catalog, now, seen)

    def today(self) -> date:
        return self.now().date()

    async def refresh(self, force: bool = False) -> None:
        """Bring the catalogue up to date with the database: two small queries, at most every FRESH_FOR seconds
        unless `force`; the content of a version is read only the first time it is seen."""
        if not force and time.monotonic() < self._look_after:
            return
        async with self._looking:  # conversations starting together share one look
            if not force and time.monotonic() < self._look_after:
                return
            index, default = await self.versions.index(), await self.records.state(DEFAULT_KEY)
            self._look_after = time.monotonic() + FRESH_FOR
            if (index, default) == self._seen:
                return
            unknown = [(flow_id, version) for flow_id, version, _on in index if not self.catalog.get(flow_id, version)]
            added = [(_parsed(item), item.content_hash) for item in await self.versions.some(unknown)]
            self.catalog.update(added, [(flow_id, version) for flow_id, version, active in index if active], default)
            self._seen = (index, default)

    async def preview(self, flow_id: str, version: int) -> Flow | None:
        upload = await self.uploads.get(preview_token(version), self.now())
        if upload is None or upload.raw.get("id") != flow_id:
            return None
        return dataclasses.replace(parse_flow(upload.raw, source=f"{flow_id} preview"), version=version)

    async def keep(self, uploader: int, upload: FlowUpload) -> str:
        """Keep an upload until an admin decides on it; returns the token its buttons carry."""
        return await self.uploads.add(uploader, upload.raw, self.now())

    async def pending(self, token: str) -> FlowUpload | None:
        """The upload waiting under `token`, read again from what was stored."""
        return _upload(await self.uploads.get(token, self.now()))

    async def discard(self, token: str) -> FlowUpload | None:
        """Forget the upload; None if it was no longer waiting (decided on already, here or elsewhere)."""
        return _upload(await self.uploads.take(token, self.now()))

    async def publish(
        self, upload: FlowUpload, activate: bool = True, audit: AuditRecord | None = None, token: str | None = None
    ) -> Flow | None:
        """Store the upload as the flow's next version, active at once unless `activate` is False.
        Conversations already begun keep the version they started with. The audit action gets `:v<version>`.
        With `token`, the pending upload is published and removed at once; None if it no longer waits."""
        digest = content_hash(upload.raw)
        version = await self.versions.add(upload.flow.id, upload.raw, digest, self.today(), activate, audit, token)
        if version is None:
            return None
        flow = parse_flow({**upload.raw, "version": version}, source=f"{upload.flow.id} v{version}")
        self.catalog.add(flow, digest, active=activate)
        if activate and self.catalog.default_id is None:
            await self.set_default(flow.id)
        return flow

    async def activate(self, flow_id: str, version: int, audit: AuditRecord | None = None) -> bool:
        """Make an imported or earlier version the active one (publish it, or roll back to it)."""
        if await self.catalog.find(flow_id, version) is None:
            return False
        if not await self.versions.activate(flow_id, version, audit):
            return False
        self.catalog.activate(flow_id, version)
        return True

    async def deactivate(self, flow_id: str, audit: AuditRecord | None = None) -> bool:
        """Retire a flow; the last active one cannot go (reporters need a questionnaire)."""
        await self.refresh(force=True)
        others = [flow for flow in self.catalog.active_flows() if flow.id != flow_id]
        if not others or len(others) == len(self.catalog.active_flows()):
            return False
        await self.versions.deactivate(flow_id, audit)
        self.catalog.deactivate(flow_id)
        if self.catalog.default_id == flow_id:
            await self.set_default(others[0].id)
        return True

    async def set_default(self, flow_id: str, audit: AuditRecord | None = None) -> None:
        await self.records.set_state(DEFAULT_KEY, flow_id, audit)
        self.catalog.set_default(flow_id)


def _parsed(item: StoredFlowVersion) -> Flow:
    return parse_flow(item.content, source=f"{item.flow_id} v{item.version}")


def _upload(stored: StoredUpload | None) -> FlowUpload | None:
    """An upload as kept: validated when it arrived, so it parses again."""
    return None if stored is None else FlowUpload(stored.raw, parse_flow(stored.raw, source=f"upload {stored.token}"))


def describe(flow: Flow, current: Flow | None, lang: str) -> str:
    """What an admin needs to decide on an upload: size, languages, branches, and what changes."""
    _ = gettext_for(lang)
    asking = [q for q in flow.questions if q.asks]
    lines = [
        _("Questionnaire “{title}” ({id}): valid.").format(title=flow.text(flow.title, lang), id=flow.id),
        _("Questions: {count} in each of {languages}.").format(count=len(asking), languages=", ".join(flow.languages)),
        _("Questions asked only after certain answers: {count}.").format(
            count=sum(1 for q in flow.questions if q.when is not None)
        ),
    ]
    if current is None:
        lines.append(_("This is a new questionnaire."))
    else:
        before = {q.id for q in current.questions}
        after = {q.id for q in flow.questions}
        lines.append(_("Compared with the active version {version}:").format(version=current.version))
        lines.append(_("new questions: {list}").format(list=", ".join(sorted(after - before)) or "—"))
        lines.append(_("removed questions: {list}").format(list=", ".join(sorted(before - after)) or "—"))
    return "\n".join(lines)
