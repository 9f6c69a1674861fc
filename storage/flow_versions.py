"""SQL for questionnaire versions: every version ever published is kept, at most one per flow is active.
An admin's change is written with its audit row in one transaction. Versions never change once stored, so
`index` (which versions exist and which are active) is all an instance needs to see that its copy is stale."""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from datetime import date
from typing import Any

from sqlalchemy import delete, func, select, tuple_, update
from sqlalchemy.ext.asyncio import async_sessionmaker

from .models import FlowVersion, PendingUpload
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
            return [_stored(row) for row in rows]

    async def index(self) -> list[tuple[str, int, bool]]:
        """Every version as (flow id, version, active), without the content: cheap enough to ask every few
        seconds."""
        query = select(FlowVersion.flow_id, FlowVersion.version, FlowVersion.active)
        async with self._sessions() as session:
            rows = await session.execute(query.order_by(FlowVersion.flow_id, FlowVersion.version))
            return [(flow_id, version, active) for flow_id, version, active in rows]

    async def some(self, keys: list[tuple[str, int]]) -> list[StoredFlowVersion]:
        """The versions named by (flow id, version); those that do not exist are left out."""
        if not keys:
            return []
        wanted = tuple_(FlowVersion.flow_id, FlowVersion.version).in_(keys)
        async with self._sessions() as session:
            rows = (await session.execute(select(FlowVersion).where(wanted))).scalars()
            return [_stored(row) for row in rows]

    async def add(
        self,
        flow_id: str,
        content: dict[str, Any],
        content_hash: str,
        day: date,
        activate: bool,
        audit: AuditRecord | None = None,
        upload: str | None = None,
    ) -> int | None:
        """Store a new version (the next number for this flow) and return its number. The audit action gets the
        number too (`flow-publish:<id>` is written as `flow-publish:<id>:v<number>`). With `upload`, the token of
        the admin's pending upload being published, that upload is deleted in the same transaction, and nothing
        is stored (None) if it is no longer waiting: two presses of Publish store one version."""
        async with self._sessions.begin() as session:
            if upload is not None:
                taken = await session.execute(delete(PendingUpload).where(PendingUpload.token == upload))
                if not taken.rowcount:
                    return None
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


def _stored(row: FlowVersion) -> StoredFlowVersion:
    return StoredFlowVersion(
        row.flow_id, row.version, json.loads(row.content), row.content_hash, row.active, row.created_on
    )
