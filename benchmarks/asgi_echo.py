"""A bare ASGI WebSocket application answering the load benchmark's phones as the echo server does
(no Django, no Channels): served by daphne (``--servers daphne-echo``) it measures the ASGI server's
own floor, i.e. what any application under daphne pays per message before doing anything."""

from __future__ import annotations

import json
import struct
from collections.abc import Awaitable, Callable
from typing import Any

Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]


def answer(message: dict[str, Any]) -> str | None:
    if message.get("bytes") is not None:
        frame: bytes = message["bytes"]
        (n,) = struct.unpack("!I", frame[:4])
        header = json.loads(frame[4 : 4 + n])
        return json.dumps({"type": "ack", "seq": header["seq"], "snapshot_id": 0, "duplicate": False})
    msg = json.loads(message.get("text") or "{}")
    if msg.get("type") == "hello":
        return json.dumps({"type": "hello_ok", "resume_from": 0, "audio_resume_from": 0})
    if msg.get("type") == "audio":
        return json.dumps({"type": "audio_ack", "seq": msg["seq"]})
    if msg.get("type") == "heartbeat":
        return json.dumps({"type": "heartbeat_ack", "server_time": ""})
    return None


async def application(scope: dict[str, Any], receive: Receive, send: Send) -> None:
    if scope["type"] != "websocket":
        return
    while True:
        event = await receive()
        if event["type"] == "websocket.connect":
            await send({"type": "websocket.accept"})
        elif event["type"] == "websocket.receive":
            reply = answer(event)
            if reply is not None:
                await send({"type": "websocket.send", "text": reply})
        elif event["type"] == "websocket.disconnect":
            return


def _channels_echo() -> Any:
    import django
    from channels.generic.websocket import AsyncWebsocketConsumer

    django.setup()
    from monitor.consumers import BaseConsumer

    class EchoConsumer(AsyncWebsocketConsumer):
        # The application's dispatch (no per-message hop to the database thread), so this floor is
        # the one the real consumers stand on.
        dispatch = BaseConsumer.dispatch

        async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
            reply = answer({"text": text_data, "bytes": bytes_data})
            if reply is not None:
                await self.send(text_data=reply)

    return EchoConsumer.as_asgi()


_channels_app: Any = None


async def channels_application(scope: dict[str, Any], receive: Receive, send: Send) -> None:
    """The same answers from a Channels ``AsyncWebsocketConsumer`` (with the configured channel layer,
    as the real consumers have; no database, no validation): daphne + Channels' own floor."""
    global _channels_app
    if _channels_app is None:
        _channels_app = _channels_echo()
    await _channels_app(scope, receive, send)
