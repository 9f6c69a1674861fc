"""Several instances on one PostgreSQL, coordinated by the database alone (storage/coordination.py): who is
alive, one instance per chat at a time, updates taken over from an instance that is gone, work run once, and
instances starting together on an empty database."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import func, select

from bot.flows.loader import DEFAULT_FLOW_DIR
from bot.runtime import Runtime
from bot.telegram.ratelimit import SharedRateLimiter
from storage.coordination import Coordination
from storage.database import create_engine
from storage.inbox import Inbox
from storage.models import ChatLease, FlowVersion

from .conftest import POSTGRES_URL, reset_postgres

pytestmark = pytest.mark.skipif(POSTGRES_URL is None, reason="needs TIPBOT_TEST_DATABASE_URL (PostgreSQL)")


@pytest.fixture
async def instances(make_settings):
    """Two instances' coordination on one freshly migrated database."""
    await reset_postgres(POSTGRES_URL)
    first = await Runtime.open(make_settings(database_url=POSTGRES_URL))
    engine = create_engine(POSTGRES_URL)
    second = await Coordination.open(engine)
    yield first, second
    await second.close()
    await engine.dispose()
    await first.close()


async def test_an_instance_is_alive_until_its_process_ends(instances):
    first, second = instances
    assert await second.alive(first.coordination.instance)
    assert await first.coordination.alive(second.instance)
    gone = second.instance
    await second.close()  # its lock connection closes, as when the process is killed
    assert not await first.coordination.alive(gone)


async def test_a_chat_is_handled_by_one_instance_at_a_time(instances):
    first, second = instances
    order: list[str] = []

    async def handle(coordination: Coordination, name: str, hold: float) -> None:
        async with coordination.hold_chat("chat-hmac"):
            order.append(f"{name} in")
            await asyncio.sleep(hold)
            order.append(f"{name} out")

    one = asyncio.create_task(handle(first.coordination, "first", 0.5))
    await asyncio.sleep(0.1)
    await handle(second, "second", 0)
    await one
    assert order == ["first in", "first out", "second in", "second out"]
    async with first.repository._sessions() as session:
        assert await session.scalar(select(func.count()).select_from(ChatLease)) == 0  # nothing left behind


async def test_a_lease_left_by_an_instance_that_is_gone_is_taken_over(instances):
    first, second = instances
    async with first.repository._sessions.begin() as session:
        session.add(ChatLease(chat_key="chat-hmac", owner=12345))  # an instance killed mid-update
    async with asyncio.timeout(5):
        async with second.hold_chat("chat-hmac"):
            pass


async def test_an_update_is_handled_by_the_instance_that_kept_it_first_and_taken_over_when_it_is_gone(instances):
    first, second = instances
    other = Inbox(first.repository._sessions, first.inbox._cipher, second.instance, second.alive)
    update = {"update_id": 5, "message": {"text": "x"}}
    assert await first.inbox.add(5, update)
    assert not await other.add(5, update)  # sent to both instances: the second leaves it to the first
    assert await other.take_over() == []  # the first is alive: nothing to take over
    second_instance = second.instance
    await first.coordination.close()  # the first instance dies with the update unhandled
    taken = await Inbox(first.repository._sessions, first.inbox._cipher, second_instance, second.alive).take_over()
    assert taken == [update]


async def test_work_named_the_same_runs_on_one_instance_at_a_time(instances):
    first, second = instances
    running: list[int] = []
    overlaps = 0

    async def work(coordination: Coordination) -> None:
        nonlocal overlaps
        async with coordination.serial("digest"):
            running.append(1)
            overlaps += len(running) > 1
            await asyncio.sleep(0.2)
            running.pop()

    await asyncio.gather(*(work(c) for c in (first.coordination, second, first.coordination, second)))
    assert overlaps == 0


async def test_instances_starting_together_on_an_empty_database_migrate_and_seed_once(make_settings):
    await reset_postgres(POSTGRES_URL)
    settings = make_settings(database_url=POSTGRES_URL)
    runtimes = await asyncio.gather(*(Runtime.open(settings) for _instance in range(3)))
    try:
        async with runtimes[0].repository._sessions() as session:
            seeded = await session.scalar(select(func.count()).select_from(FlowVersion))
        assert seeded == len(list(DEFAULT_FLOW_DIR.glob("*.yaml")))
        assert all(runtime.flows.active_flows() for runtime in runtimes)
    finally:
        for runtime in runtimes:
            await runtime.close()


async def test_telegrams_limits_are_shared_by_the_instances_running(instances):
    first, second = instances
    limiter = SharedRateLimiter()
    assert limiter.rate == 30
    limiter.share(await first.coordination.live_instances())
    assert limiter.instances == 2 and limiter.rate == 15
    await second.close()
    limiter.share(await first.coordination.live_instances())
    assert limiter.rate == 30
