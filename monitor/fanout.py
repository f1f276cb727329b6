"""Batched pushes to proctor groups: the audio meter deltas of all phones of a server process go out
one channel-layer message per session per window, not one per phone.

Why: every phone emits an ``audio`` delta every 2 s. Sent one by one, 500 phones made 250
``group_send`` calls a second (channels_redis: two Redis round trips and a Lua call each) and 250
channel-layer receives a second on the proctors' side — the largest single cost on the event loop
after the phones' own messages. Here the deltas of one session wait up to ``WS_FANOUT_BATCH_MS``
and travel together as one ``push.many`` message; the proctor consumer unpacks it into the same
WebSocket messages as before (the protocol does not change), in order.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from django.conf import settings

from monitor import protocol as p

logger = logging.getLogger(__name__)


class GroupFanout:
    def __init__(self, *, layer: Any, window_s: float) -> None:
        self.layer, self.window_s = layer, window_s
        self.pending: dict[str, list[dict[str, Any]]] = {}
        self.timer: asyncio.TimerHandle | None = None
        self.loop = asyncio.get_running_loop()
        self.tasks: set[asyncio.Task[None]] = set()

    def push(self, group: str, payload: dict[str, Any]) -> None:
        """Queue ``payload`` for ``group``; it is sent with the window's other payloads."""
        self.pending.setdefault(group, []).append(payload)
        if self.timer is None:
            self.timer = self.loop.call_later(self.window_s, self._flush)

    def _flush(self) -> None:
        self.timer = None
        batch, self.pending = self.pending, {}
        for group, payloads in batch.items():
            message = p.envelope_send(payloads[0]) if len(payloads) == 1 else p.envelope_send_many(payloads)
            task = self.loop.create_task(self._send(group, message, len(payloads)))
            self.tasks.add(task)  # keep a reference until it is done
            task.add_done_callback(self.tasks.discard)

    async def _send(self, group: str, message: dict[str, Any], count: int) -> None:
        try:
            await self.layer.group_send(group, message)
        except Exception:  # noqa: BLE001 - live deltas are best-effort; the database has the state
            logger.exception("fan-out of %s payloads to %s failed", count, group)


_fanouts: dict[int, GroupFanout] = {}


def fanout_for_loop(layer: Any) -> GroupFanout:
    """The fan-out of the running event loop (one per server process; tests may run several loops)."""
    loop = asyncio.get_running_loop()
    fanout = _fanouts.get(id(loop))
    if fanout is None or fanout.loop is not loop or fanout.layer is not layer:
        fanout = GroupFanout(layer=layer, window_s=float(settings.WS_FANOUT_BATCH_MS) / 1000)
        _fanouts[id(loop)] = fanout
    return fanout
