"""monitor.fanout: the meter deltas of one window travel as one channel-layer message per group."""

from __future__ import annotations

import asyncio
from typing import Any

from channels.layers import InMemoryChannelLayer

from monitor import protocol as p
from monitor.fanout import GroupFanout


class CountingLayer(InMemoryChannelLayer):
    def __init__(self) -> None:
        super().__init__()
        self.group_sends: list[tuple[str, dict[str, Any]]] = []

    async def group_send(self, group: str, message: dict[str, Any]) -> None:
        self.group_sends.append((group, message))
        await super().group_send(group, message)


def test_one_window_of_deltas_is_one_message_per_group_in_order() -> None:
    async def run() -> tuple[CountingLayer, list[dict[str, Any]], list[dict[str, Any]]]:
        layer = CountingLayer()
        room_a, room_b = p.group_session_proctors(1), p.group_session_proctors(2)
        a, b = await layer.new_channel(), await layer.new_channel()
        await layer.group_add(room_a, a)
        await layer.group_add(room_b, b)
        fanout = GroupFanout(layer=layer, window_s=0.05)
        for attempt in (11, 12, 13):
            fanout.push(room_a, {"type": "audio", "session_id": 1, "attempt_id": attempt})
        fanout.push(room_b, {"type": "audio", "session_id": 2, "attempt_id": 21})
        assert layer.group_sends == []  # nothing before the window ends
        got_a = [await asyncio.wait_for(layer.receive(a), 2)]
        got_b = [await asyncio.wait_for(layer.receive(b), 2)]
        fanout.push(room_a, {"type": "audio", "session_id": 1, "attempt_id": 11})  # the next window
        got_a.append(await asyncio.wait_for(layer.receive(a), 2))
        return layer, got_a, got_b

    layer, got_a, got_b = asyncio.run(run())

    assert len(layer.group_sends) == 3
    assert got_a[0]["type"] == "push.many"
    assert [m["attempt_id"] for m in got_a[0]["payloads"]] == [11, 12, 13]
    # a group's only payload goes as before
    assert got_b == [p.envelope_send({"type": "audio", "session_id": 2, "attempt_id": 21})]
    assert got_a[1] == p.envelope_send({"type": "audio", "session_id": 1, "attempt_id": 11})


def test_a_failing_layer_loses_the_window_and_raises_nothing() -> None:
    class DownLayer(InMemoryChannelLayer):
        async def group_send(self, group: str, message: dict[str, Any]) -> None:
            raise ConnectionError("redis down")

    async def run() -> GroupFanout:
        fanout = GroupFanout(layer=DownLayer(), window_s=0.01)
        fanout.push("g", {"type": "audio"})
        await asyncio.sleep(0.1)
        return fanout

    fanout = asyncio.run(run())
    assert fanout.pending == {} and fanout.tasks == set()
