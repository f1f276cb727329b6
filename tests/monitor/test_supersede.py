"""One socket per device and per desktop: a newer socket closes the older ones, never the reverse —
even when the older socket's own announcement reaches the newer one late (the pub/sub channel layer
delivers by the receiving process's group membership at arrival, not at publish time)."""

from __future__ import annotations

import asyncio

from monitor import protocol as p
from monitor.consumers import BaseConsumer


class Socket(BaseConsumer):
    """Only what push_close reads; records the close instead of closing a transport."""

    def __init__(self, channel_name: str, opened_at: float) -> None:
        self.channel_name, self.opened_at = channel_name, opened_at
        self.closed_with: int | None = None

    async def shut(self, code: int) -> None:
        self.closed_with = code


def deliver(socket: Socket, event: dict[str, object]) -> int | None:
    asyncio.run(socket.push_close(event))
    return socket.closed_with


def test_a_newer_socket_closes_the_older_one() -> None:
    old = Socket("specific.old", opened_at=1000.0)
    announcement = p.envelope_supersede(channel="specific.new", opened_at=1000.5)
    assert deliver(old, announcement) == p.CloseCode.SUPERSEDED


def test_an_older_sockets_late_announcement_leaves_the_newer_one_open() -> None:
    new = Socket("specific.new", opened_at=1000.5)
    late = p.envelope_supersede(channel="specific.old", opened_at=1000.0)
    assert deliver(new, late) is None
    assert deliver(new, p.envelope_supersede(channel="specific.new", opened_at=1000.5)) is None  # its own


def test_sockets_opened_in_the_same_instant_are_ordered_by_channel_name() -> None:
    a, b = Socket("specific.a", opened_at=7.0), Socket("specific.b", opened_at=7.0)
    assert deliver(b, p.envelope_supersede(channel="specific.a", opened_at=7.0)) is None
    assert deliver(a, p.envelope_supersede(channel="specific.b", opened_at=7.0)) == p.CloseCode.SUPERSEDED


def test_other_closes_apply_whatever_the_opening_time() -> None:
    socket = Socket("specific.x", opened_at=2000.0)
    assert deliver(socket, p.envelope_close(p.CloseCode.TOKEN_REVOKED)) == p.CloseCode.TOKEN_REVOKED
