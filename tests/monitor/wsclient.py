"""A small synchronous WebSocket test client (the ``websockets`` library) for a live server."""

from __future__ import annotations

import json
import threading
import time
from typing import Any

from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect
from websockets.typing import Origin


class WS:
    def __init__(
        self, url: str, *, origin: str | None = None, cookie: str | None = None, keepalive: float | None = 0.5
    ) -> None:
        """``keepalive``: send a heartbeat every so many seconds from a thread, as real clients do."""
        headers = {"Cookie": cookie} if cookie else None
        self.conn: ClientConnection = connect(
            url,
            origin=Origin(origin) if origin else None,
            additional_headers=headers,
            open_timeout=10,
            max_size=4 * 1024 * 1024,
            legacy=True,
        )
        self.seen: list[dict[str, Any]] = []
        self.backlog: list[dict[str, Any]] = []
        self.stopped = threading.Event()
        if keepalive:
            threading.Thread(target=self._beat, args=(keepalive,), daemon=True).start()

    def _beat(self, every: float) -> None:
        while not self.stopped.wait(every):
            try:
                self.conn.send(json.dumps({"type": "heartbeat"}))
            except Exception:  # noqa: BLE001 - the socket closed: stop beating
                return

    def send(self, message: dict[str, Any] | bytes | str) -> None:
        self.conn.send(json.dumps(message) if isinstance(message, dict) else message)

    def recv(self, timeout: float = 10.0) -> dict[str, Any]:
        raw = self.conn.recv(timeout=timeout)
        msg: dict[str, Any] = json.loads(raw)
        self.seen.append(msg)
        return msg

    def until(self, type_: str, timeout: float = 10.0, **match: Any) -> dict[str, Any]:
        """The first message of ``type_`` (with the given field values), in whatever order it came:
        messages not asked for yet stay in the backlog for later calls."""

        def matches(msg: dict[str, Any]) -> bool:
            return msg.get("type") == type_ and all(msg.get(k) == v for k, v in match.items())

        for msg in self.backlog:
            if matches(msg):
                self.backlog.remove(msg)
                return msg
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"no {type_} {match} within {timeout}s; seen {self.seen[-8:]}")
            msg = self.recv(timeout=left)
            if matches(msg):
                return msg
            if msg.get("type") != "heartbeat_ack":
                self.backlog.append(msg)

    def closed_with(self, timeout: float = 10.0) -> int:
        """Read until the server closes; the close code."""
        deadline = time.monotonic() + timeout
        try:
            while time.monotonic() < deadline:
                self.recv(timeout=max(0.01, deadline - time.monotonic()))
        except ConnectionClosed as exc:
            assert exc.rcvd is not None
            return exc.rcvd.code
        raise TimeoutError(f"socket still open after {timeout}s")

    def close(self) -> None:
        self.stopped.set()
        self.conn.close()

    def drop(self) -> None:
        """Vanish without a close handshake (a phone losing Wi-Fi)."""
        self.stopped.set()
        self.conn.socket.close()
