"""Questionnaire versions for admins, independent of Telegram: load them at start (the shipped default on the
very first start), read uploaded files, publish, roll back, choose the default, and describe a draft. A change
made by an admin takes its audit record, stored in the same transaction as the change."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

import yaml

from storage.flow_versions import FlowVersions
from storage.repository import AuditRecord
from storage.staff_records import StaffRecords

from .flows.catalog import FlowCatalog, content_hash
from .flows.loader import DEFAULT_FLOW_DIR, FlowError, Problem, parse_flow, read_flow_yaml
from .flows.model import Flow
from .i18n import gettext_for

DEFAULT_KEY = "default_flow"
MAX_FLOW_FILE = 2 * 1024 * 1024


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
    def __init__(self, versions: FlowVersions, records: StaffRecords, catalog: FlowCatalog, today: Callable[[], date]):
        self.versions = versions
        self.records = records
        self.catalog = catalog
        self.today = today

    @classmethod
    async def load(cls, versions: FlowVersions, records: StaffRecords, today: Callable[[], date]) -> FlowAdmin:
        stored = await versions.all()
        if not stored:
            for path in sorted(DEFAULT_FLOW_DIR.glob("*.yaml")):
                raw = yaml.safe_load(path.read_text(encoding="utf-8"))
                parse_flow(raw, source=str(path))
                await versions.add(raw["id"], raw, content_hash(raw), today(), activate=True)
                if await records.state(DEFAULT_KEY) is None:
                    await records.set_state(DEFAULT_KEY, raw["id"])
            stored = await versions.all()
        flows = [parse_flow(item.content, source=f"{item.flow_id} v{item.version}") for item in stored]
        active = [(item.flow_id, item.version) for item in stored if item.active]
        catalog = FlowCatalog(flows, active, await records.state(DEFAULT_KEY))
        for item, flow in zip(stored, flows, strict=True):
            catalog.remember_hash(flow, item.content_hash)
        return cls(versions, records, catalog, today)

    async def publish(self, upload: FlowUpload, activate: bool = True, audit: AuditRecord | None = None) -> Flow:
        """Store the upload as the flow's next version, active at once unless `activate` is False.
        Conversations already begun keep the version they started with. The audit action gets `:v<version>`."""
        digest = content_hash(upload.raw)
        version = await self.versions.add(upload.flow.id, upload.raw, digest, self.today(), activate, audit)
        flow = parse_flow({**upload.raw, "version": version}, source=f"{upload.flow.id} v{version}")
        self.catalog.add(flow, digest, active=activate)
        if activate and self.catalog.default_id is None:
            await self.set_default(flow.id)
        return flow

    async def activate(self, flow_id: str, version: int, audit: AuditRecord | None = None) -> bool:
        """Make an imported or earlier version the active one (publish it, or roll back to it)."""
        if self.catalog.get(flow_id, version) is None or not await self.versions.activate(flow_id, version, audit):
            return False
        self.catalog.activate(flow_id, version)
        return True

    async def deactivate(self, flow_id: str, audit: AuditRecord | None = None) -> bool:
        """Retire a flow; the last active one cannot go (reporters need a questionnaire)."""
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
