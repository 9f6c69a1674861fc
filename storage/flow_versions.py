"""SQL for questionnaire versions: every version ever published is kept, at most one per flow is active.
An admin's change is written with its audit row in one transaction."""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from datetime import date
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import async_sessionmaker

from .models import FlowVersion
from .repository import AuditRecord, add_audit


@dataclass(frozen=True)
class StoredFlowVersion:
    flow_id: str
    version: int
    content: dict[str, Any]
    content_hash: str
    active: bool
    created_on: date


class FlowVersions:
    def __init__(self, sessions: async_sessionmaker):
        self._sessions = sessions

    async def all(self) -> list[StoredFlowVersion]:
        async with self._sessions() as session:
            rows = (
                await session.execute(select(FlowVersion).order_by(FlowVersion.flow_id, FlowVersion.version))
            ).scalars()
            return [
                StoredFlowVersion(r.flow_id, r.version, json.loads(r.content), r.content_hash, r.active, r.created_on)
                for r in rows
            ]

    async def add(
        self,
        flow_id: str,
        content: dict[str, Any],
        content_hash: str,
        day: date,
        activate: bool,
        audit: AuditRecord | None = None,
    ) -> int:
        """Store a new version (the next number for this flow) and return its number. The audit action gets the
        number too (`flow-publish:<id>` is written as `flow-publish:<id>:v<number>`)."""
        async with self._sessions.begin() as session:
            latest = await session.execute(select(func.max(FlowVersion.version)).where(FlowVersion.flow_id == flow_id))
            version = (latest.scalar_one() or 0) + 1
            stored = {**content, "version": version}
            if activate:
                await session.execute(update(FlowVersion).where(FlowVersion.flow_id == flow_id).values(active=False))
            session.add(
                FlowVersion(
                    flow_id=flow_id,
                    version=version,
                    content=json.dumps(stored, ensure_ascii=False, sort_keys=True),
                    content_hash=content_hash,
                    active=activate,
                    created_on=day,
                )
            )
            add_audit(session, audit and replace(audit, action=f"{audit.action}:v{version}"))
            return version

    async def activate(self, flow_id: str, version: int, audit: AuditRecord | None = None) -> bool:
        """Make `version` the active one of its flow; False if there is no such version."""
        async with self._sessions.begin() as session:
            if await session.get(FlowVersion, (flow_id, version)) is None:
                return False
            await session.execute(update(FlowVersion).where(FlowVersion.flow_id == flow_id).values(active=False))
            await session.execute(
                update(FlowVersion)
                .where(FlowVersion.flow_id == flow_id, FlowVersion.version == version)
                .values(active=True)
            )
            add_audit(session, audit)
            return True

    async def deactivate(self, flow_id: str, audit: AuditRecord | None = None) -> None:
        async with self._sessions.begin() as session:
            await session.execute(update(FlowVersion).where(FlowVersion.flow_id == flow_id).values(active=False))
            add_audit(session, audit)
