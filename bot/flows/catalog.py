"""Which flows the bot knows, by id and version, and which one new reports use."""

from __future__ import annotations

from .loader import load_default_flows
from .model import Flow


class FlowCatalog:
    def __init__(self, flows: list[Flow]):
        if not flows:
            raise ValueError("at least one flow is needed")
        self._flows = {(flow.id, flow.version): flow for flow in flows}
        self.active = flows[0]

    @classmethod
    def shipped(cls) -> FlowCatalog:
        return cls(load_default_flows())

    def get(self, flow_id: str, version: int) -> Flow | None:
        return self._flows.get((flow_id, version))
