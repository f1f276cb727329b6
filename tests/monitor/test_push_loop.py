"""Pushes from synchronous code with no server loop to borrow (a Celery worker process) go through one
event loop per process, so they share one Redis connection (monitor.broadcast.use_own_loop)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from channels.layers import get_channel_layer
from django.conf import settings

from monitor import broadcast

pytestmark = pytest.mark.production_only  # the Redis pub/sub channel layer

PUSHES = 20


def connections_received() -> int:
    layers: Any = settings.CHANNEL_LAYERS  # typed from the test settings' in-memory layer
    url = layers["default"]["CONFIG"]["hosts"][0]["address"]
    client = redis.Redis.from_url(url)
    try:
        return int(client.info("stats")["total_connections_received"])
    finally:
        client.close()


@pytest.fixture
def own_loop() -> Iterator[None]:
    broadcast.use_own_loop()
    yield
    broadcast._own_loop_wanted = False


def push_all(group: str) -> None:
    for n in range(PUSHES):
        broadcast.push(group, {"type": "test", "n": n})


async def test_pushes_from_a_worker_share_one_connection_and_all_arrive_in_order(own_loop: None) -> None:
    layer = get_channel_layer()
    channel = await layer.new_channel()
    await layer.group_add("push-loop-test", channel)
    before = connections_received()

    await asyncio.to_thread(push_all, "push-loop-test")  # a thread with no event loop, as a task runs

    opened = connections_received() - before - 1  # the look-up itself is one
    received = [await asyncio.wait_for(layer.receive(channel), 5) for _ in range(PUSHES)]
    assert [m["payload"]["n"] for m in received] == list(range(PUSHES))
    # async_to_sync would have opened a connection for each push (a new event loop each time)
    assert opened <= 2, f"{opened} Redis connections for {PUSHES} pushes"
