"""The audit log on SQLite and PostgreSQL: an action and its audit row are stored together or not at all, and
an action naming a flow with a long id fits."""

from __future__ import annotations

from datetime import date, datetime

import pytest
import yaml
from sqlalchemy.exc import DBAPIError

from bot.flow_admin import FlowUpload
from bot.flows.loader import DEFAULT_FLOW_DIR, parse_flow
from storage.repository import AuditRecord, NewTip

STAFF = 5550001
LONG_ID = "cotton-harvest-2026-karakalpakstan-north"
AUDIT_FAILS = (OverflowError, DBAPIError)
"""What the database driver raises for a staff id beyond BIGINT: SQLite's and asyncpg's way of refusing it."""


def upload_of(flow_id: str) -> FlowUpload:
    raw = yaml.safe_load((DEFAULT_FLOW_DIR / "forced_labour.yaml").read_text(encoding="utf-8"))
    raw["id"] = flow_id
    return FlowUpload(raw, parse_flow(raw, source=f"{flow_id}.yaml"))


async def store_tip(runtime) -> str:
    repository = runtime.repository
    await repository.save_draft("k", {}, datetime(2026, 11, 27, 9))
    tip = NewTip("forced-labour", 1, {"description": "story"}, False, date(2026, 11, 27), "1" * 64)
    return await repository.submit_tip("k", tip, [])


def audited(runtime, action: str, tip_id: str | None = None, staff_id: int = STAFF) -> AuditRecord:
    return AuditRecord(staff_id, action, tip_id, runtime.now())


async def actions(runtime) -> list[tuple[int, str, str | None]]:
    return [(staff, action, tip) for staff, action, tip, _at in await runtime.repository.audit_entries()]


async def test_publishing_a_flow_with_a_40_character_id_records_its_audit_row(runtime):
    assert len(LONG_ID) == 40
    flow = await runtime.flow_admin.publish(upload_of(LONG_ID), audit=audited(runtime, f"flow-publish:{LONG_ID}"))
    assert flow.version == 1 and runtime.flows.is_active(flow)
    assert await actions(runtime) == [(STAFF, f"flow-publish:{LONG_ID}:v1", None)]


async def flow_state(runtime, _tip_id):
    versions = [(v.flow_id, v.version, v.active) for v in await runtime.flow_admin.versions.all()]
    return versions, await runtime.records.state("default_flow")


async def tip_state(runtime, tip_id):
    tip = await runtime.repository.get_tip(tip_id)
    return tip.status, tip.keep, await runtime.records.notes(tip_id), await runtime.records.exchanges(tip_id)


async def staff_state(runtime, _tip_id):
    return (
        await runtime.records.added_staff_chats(),
        await runtime.records.admins(),
        await runtime.records.staff_language(-100777),
    )


CHANGES = {
    "publish": (flow_state, lambda rt, tip, audit: rt.flow_admin.publish(upload_of(LONG_ID), audit=audit)),
    "rollback": (flow_state, lambda rt, tip, audit: rt.flow_admin.activate("forced-labour", 1, audit)),
    "retire": (flow_state, lambda rt, tip, audit: rt.flow_admin.deactivate("forced-labour", audit)),
    "default": (flow_state, lambda rt, tip, audit: rt.flow_admin.set_default(LONG_ID, audit)),
    "status": (tip_state, lambda rt, tip, audit: rt.repository.set_status(tip, "verified", audit)),
    "keep": (tip_state, lambda rt, tip, audit: rt.repository.set_keep(tip, True, audit)),
    "note": (tip_state, lambda rt, tip, audit: rt.records.add_note(tip, STAFF, "call back", rt.today(), audit)),
    "reply": (
        tip_state,
        lambda rt, tip, audit: rt.records.add_exchange(tip, "staff", "when?", rt.today(), audit=audit),
    ),
    "staff chat": (staff_state, lambda rt, tip, audit: rt.records.set_staff_chat(-100777, True, audit)),
    "admin": (staff_state, lambda rt, tip, audit: rt.records.set_admin(777, True, audit)),
    "language": (staff_state, lambda rt, tip, audit: rt.records.set_staff_language(-100777, "uz", audit)),
}


async def prepare(runtime) -> str:
    """A tip to work on, and a second flow so that retiring one and rolling back have something to do."""
    tip_id = await store_tip(runtime)
    await runtime.flow_admin.publish(upload_of(LONG_ID))
    await runtime.flow_admin.publish(upload_of("forced-labour"))
    return tip_id


@pytest.mark.parametrize("name", list(CHANGES))
async def test_a_change_and_its_audit_row_are_stored_together_or_not_at_all(runtime, name):
    observe, change = CHANGES[name]
    tip_id = await prepare(runtime)
    before = await observe(runtime, tip_id)

    with pytest.raises(AUDIT_FAILS):
        await change(runtime, tip_id, audited(runtime, f"refused {name}", tip_id, staff_id=2**64))
    assert await observe(runtime, tip_id) == before
    assert await actions(runtime) == []

    await change(runtime, tip_id, audited(runtime, name, tip_id))
    assert await observe(runtime, tip_id) != before
    [(staff, action, tip)] = await actions(runtime)
    assert staff == STAFF and action.startswith(name) and tip == tip_id


async def test_an_audit_row_alone_for_what_only_reads(runtime):
    tip_id = await store_tip(runtime)
    await runtime.repository.audit(STAFF, "view", tip_id, runtime.now())
    with pytest.raises(AUDIT_FAILS):
        await runtime.repository.audit(2**64, "view", tip_id, runtime.now())
    assert await actions(runtime) == [(STAFF, "view", tip_id)]
