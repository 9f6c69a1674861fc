"""Which flows the bot knows, by id and version, which are active, and which one new reports use by default.

Every version ever published stays known, so a reporter who started before a new version was published
finishes on the version they started with. Previews of uploaded drafts get negative version numbers, derived
from the upload's token, and are never active.

Several instances may serve one bot, and flows are also published from the command line, so this copy can be
stale. Whoever built it from the database (bot/flow_admin.py) is its `FlowSource`: `fresh` asks it to look
for changes (at most every few seconds) before a conversation starts, and `find` asks it for a version a draft
names that is not known here yet. The lookups themselves stay synchronous and free of SQL.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from typing import Any, Protocol

from .loader import load_default_flows
from .model import Flow


def content_hash(raw: dict[str, Any]) -> str:
    """The hash a tip records: of the flow's content, whatever version number it was published under."""
    canonical = {key: value for key, value in raw.items() if key != "version"}
    return hashlib.sha256(json.dumps(canonical, ensure_ascii=False, sort_keys=True).encode()).hexdigest()


def preview_version(token: str) -> int:
    """The version a preview of the upload with this token (8 hex digits) is known under: negative, so that no
    published version has it, and the same on every instance."""
    return -(int(token, 16) + 1)


def preview_token(version: int) -> str:
    return f"{-version - 1:08x}"


class FlowSource(Protocol):
    """Where a catalogue's flows come from, asked when the copy may be stale."""

    async def refresh(self, force: bool = False) -> None:
        """Bring the catalogue up to date with what is published; unless `force`, at most every few seconds."""

    async def preview(self, flow_id: str, version: int) -> Flow | None:
        """The flow of an admin's preview, while its upload still waits for a decision."""


class FlowCatalog:
    def __init__(self, flows: list[Flow], active: list[tuple[str, int]] | None = None, default: str | None = None):
        if not flows:
            raise ValueError("at least one flow is needed")
        self._flows: dict[tuple[str, int], Flow] = {}
        self._hashes: dict[tuple[str, int], str] = {}
        for flow in flows:
            self._flows[(flow.id, flow.version)] = flow
        self._active = list(active) if active is not None else [(flows[0].id, flows[0].version)]
        self._default = default
        self._source: FlowSource | None = None

    @classmethod
    def shipped(cls) -> FlowCatalog:
        return cls(load_default_flows())

    def keep_fresh(self, source: FlowSource) -> None:
        self._source = source

    async def fresh(self) -> None:
        """Before a conversation starts: new versions, activations and the default made elsewhere."""
        if self._source is not None:
            await self._source.refresh()

    async def find(self, flow_id: str, version: int) -> Flow | None:
        """The flow a draft was begun on, looked for at its source when it is not known here: published on
        another instance or from the command line since this copy was made, or an admin's preview of an upload
        (asked for every time, so a preview ends everywhere once the upload is published or discarded)."""
        if self._source is not None and version < 0:
            preview = await self._source.preview(flow_id, version)
            if preview is None:
                self._flows.pop((flow_id, version), None)
            else:
                self._flows[(flow_id, version)] = preview
            return preview
        if self.get(flow_id, version) is None and self._source is not None:
            await self._source.refresh(force=True)
        return self.get(flow_id, version)

    def remember_hash(self, flow: Flow, digest: str) -> None:
        self._hashes[(flow.id, flow.version)] = digest

    def hash_of(self, flow: Flow) -> str | None:
        return self._hashes.get((flow.id, flow.version))

    def get(self, flow_id: str, version: int) -> Flow | None:
        return self._flows.get((flow_id, version))

    def versions(self, flow_id: str) -> list[Flow]:
        return sorted((f for (fid, v), f in self._flows.items() if fid == flow_id and v > 0), key=lambda f: f.version)

    def flow_ids(self) -> list[str]:
        return sorted({fid for fid, version in self._flows if version > 0})

    def active_flows(self) -> list[Flow]:
        """Active flows, the default one first (it heads the reporter's choice)."""
        flows = [self._flows[key] for key in self._active if key in self._flows]
        return sorted(flows, key=lambda flow: flow.id != self._default)

    def is_active(self, flow: Flow) -> bool:
        return (flow.id, flow.version) in self._active

    @property
    def default_id(self) -> str | None:
        return self._default

    @property
    def active(self) -> Flow:
        """The flow new reports use when the reporter is not asked to choose."""
        flows = self.active_flows()
        chosen = next((flow for flow in flows if flow.id == self._default), None)
        return chosen or (flows[0] if flows else next(iter(self._flows.values())))

    def add(self, flow: Flow, digest: str, active: bool) -> None:
        self._flows[(flow.id, flow.version)] = flow
        self._hashes[(flow.id, flow.version)] = digest
        if active:
            self.activate(flow.id, flow.version)

    def activate(self, flow_id: str, version: int) -> None:
        self._active = [key for key in self._active if key[0] != flow_id] + [(flow_id, version)]

    def deactivate(self, flow_id: str) -> None:
        self._active = [key for key in self._active if key[0] != flow_id]

    def set_default(self, flow_id: str) -> None:
        self._default = flow_id

    def update(self, added: list[tuple[Flow, str]], active: list[tuple[str, int]], default: str | None) -> None:
        """What is published now: versions not known before (with their content hashes), the active ones and the
        default. Versions known already stay, for the drafts begun on them."""
        for flow, digest in added:
            self._flows[(flow.id, flow.version)] = flow
            self._hashes[(flow.id, flow.version)] = digest
        self._active, self._default = list(active), default

    def add_preview(self, flow: Flow, token: str) -> Flow:
        """Register an uploaded draft for an admin's preview, under the version its token gives."""
        preview = dataclasses.replace(flow, version=preview_version(token))
        self._flows[(preview.id, preview.version)] = preview
        return preview
