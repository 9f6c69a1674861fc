"""Which flows the bot knows, by id and version, which are active, and which one new reports use by default.

Every version ever published stays known, so a reporter who started before a new version was published
finishes on the version they started with. Previews of uploaded drafts get negative version numbers and are
never active.
"""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import json
from typing import Any

from .loader import load_default_flows
from .model import Flow


def content_hash(raw: dict[str, Any]) -> str:
    """The hash a tip records: of the flow's content, whatever version number it was published under."""
    canonical = {key: value for key, value in raw.items() if key != "version"}
    return hashlib.sha256(json.dumps(canonical, ensure_ascii=False, sort_keys=True).encode()).hexdigest()


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
        self._previews = itertools.count(1)

    @classmethod
    def shipped(cls) -> FlowCatalog:
        return cls(load_default_flows())

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

    def add_preview(self, flow: Flow) -> Flow:
        """Register a draft for an admin's preview under a version no published flow uses."""
        preview = dataclasses.replace(flow, version=-next(self._previews))
        self._flows[(preview.id, preview.version)] = preview
        return preview
