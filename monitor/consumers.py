"""Thin WebSocket consumers: authenticate, validate (monitor.protocol), call services, forward pushes.

Every socket authenticates with a single-use ticket (``?ticket=``, from POST /api/v1/ws-tickets);
the proctor console may instead use its Django session cookie (its route sits behind an Origin
check). ORM work only through ``database_sync_to_async`` service calls. Refusals are
``{"type": "error", "code": ...}`` frames; unrecoverable ones close with a 4xxx code
(monitor.protocol.CloseCode). Per-connection limits: text frame size, snapshot size, a token bucket
on messages, a budget of invalid messages, a hello deadline and a heartbeat watchdog.
"""

from __future__ import annotations

import asyncio
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Any
from urllib.parse import parse_qs

from channels.consumer import get_handler_name
from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings
from django.utils import timezone

from config.errors import ApplicationError
from monitor import broadcast, selectors, services
from monitor import protocol as p
from monitor.audio_meter import AudioMeter
from monitor.fanout import fanout_for_loop
from monitor.writer import writer_for_loop

logger = logging.getLogger(__name__)


_executors: dict[str, ThreadPoolExecutor] = {}


def executor(name: str) -> ThreadPoolExecutor:
    """The process's thread pools for sockets' blocking work, each with its own DB connections:

    - ``writer`` (1 thread): the group commits of audio and liveness (monitor.writer); they run one
      at a time anyway and must never queue behind a slow call;
    - ``media`` (``WS_MEDIA_THREADS``): snapshot ingest, mostly waiting on fsync and S3 (I/O, the
      GIL is released);
    - ``proctor`` (``WS_PROCTOR_THREADS``): proctors' tickets, initial state and commands, so a storm
      of phones connecting (ticket, hello, pushes) never holds up the console;
    - ``db`` (``WS_DB_THREADS``): everything else (phones' and desktops' tickets, hello, events).

    Not the loop's default executor: that one is min(32, cores + 4) threads shared with everything,
    and one kind of work (a proctor's initial state of 30 attempts, a slow S3 upload) held up every
    socket's acks behind it (docs/reliability.md)."""
    pool = _executors.get(name)
    if pool is None:
        size = {
            "writer": 1,
            "media": int(settings.WS_MEDIA_THREADS),
            "proctor": int(settings.WS_PROCTOR_THREADS),
        }.get(name, int(settings.WS_DB_THREADS))
        pool = _executors[name] = ThreadPoolExecutor(max_workers=size, thread_name_prefix=f"ws-{name}")
    return pool


def db(fn: Any, pool: str = "db") -> Any:
    """ORM work off the event loop on a sized pool (see ``executor``). Channels' default
    (thread_sensitive) funnels every socket's queries through ONE thread: with 100 sockets the acks
    queued behind each other."""
    return database_sync_to_async(fn, thread_sensitive=False, executor=executor(pool))


def db_writer(fn: Any) -> Any:
    return db(fn, "writer")


def db_proctor(fn: Any) -> Any:
    return db(fn, "proctor")


HELLO_TIMEOUT_SECONDS = 10.0
MAX_PROTOCOL_ERRORS = 20  # invalid messages tolerated per connection before closing
MAX_RATE_DROPS = 50  # messages dropped by the rate limit before closing


class TokenBucket:
    """``rate`` messages per second sustained, ``burst`` at once. Pure; monotonic clock injected."""

    def __init__(self, rate: float, burst: int, now: float) -> None:
        self.rate, self.capacity = rate, float(burst)
        self.tokens, self.stamp = float(burst), now

    def take(self, now: float) -> bool:
        self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False


_sweeper: asyncio.Task[None] | None = None


async def _sweep_forever(interval: float) -> None:
    """Every server process sweeps for silent phones (see services.devices_sweep_lost)."""
    while True:
        await asyncio.sleep(interval)
        try:
            await db(services.devices_sweep_lost)()
        except Exception:  # noqa: BLE001 - keep sweeping; the next round retries
            logger.exception("liveness sweep failed")


def ensure_sweeper() -> None:
    global _sweeper
    if _sweeper is None or _sweeper.done():
        interval = max(0.5, float(settings.HEARTBEAT_TIMEOUT_SECONDS) / 3)
        _sweeper = asyncio.get_running_loop().create_task(_sweep_forever(interval))


class BaseConsumer(AsyncWebsocketConsumer):
    role = ""

    async def dispatch(self, message: dict[str, Any]) -> None:
        """Channels' dispatch, minus ``aclose_old_connections()`` before every message. Channels 4.2+
        hops to its one thread-sensitive worker thread for it, for every frame received and every
        group push: under load all sockets' messages queued through that single thread (seconds of
        ack latency; benchmarks/load_benchmark.py). Our consumers never touch the ORM on that thread:
        all ORM work runs through ``db()``, whose threads close their own stale connections around
        each call (channels.db.DatabaseSyncToAsync)."""
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)

    async def connect(self) -> None:
        self.groups_joined: list[str] = []
        self.hello_done = False
        self.closing = False
        self.protocol_errors = 0
        self.rate_drops = 0
        now = time.monotonic()
        self.bucket = TokenBucket(
            float(settings.WS_MESSAGES_PER_SECOND), int(settings.WS_MESSAGES_BURST), now
        )
        self.last_rx = now
        self.busy = 0
        self.opened = now
        self.opened_at = time.time()  # wall clock: comparable across server processes (supersede)
        self.watchdog: asyncio.Task[None] | None = None
        # Accept first so a refusal can carry a close code the client sees (a 403 handshake cannot).
        await self.accept()
        try:
            await self.authenticate()
        except ApplicationError as exc:
            await self.send_json(p.error(exc.code, exc.message))
            await self.shut(p.CloseCode.AUTH_FAILED if exc.http_status == 401 else p.CloseCode.FORBIDDEN)
            return
        self.watchdog = asyncio.get_running_loop().create_task(self.watch())

    async def authenticate(self) -> None:
        raise NotImplementedError

    def query_ticket(self) -> str:
        query = parse_qs(self.scope.get("query_string", b"").decode("latin1"))
        return (query.get("ticket") or [""])[0]

    async def join(self, group: str) -> None:
        await self.channel_layer.group_add(group, self.channel_name)
        self.groups_joined.append(group)

    async def disconnect(self, code: int) -> None:
        self.closing = True
        if self.watchdog is not None:
            self.watchdog.cancel()
        for group in self.groups_joined:
            await self.channel_layer.group_discard(group, self.channel_name)
        await self.on_gone(code)

    async def on_gone(self, code: int) -> None:
        """Hook: the socket closed (any reason)."""

    async def shut(self, code: int) -> None:
        if not self.closing:
            self.closing = True
            await self.close(code=code)

    async def send_json(self, payload: dict[str, Any]) -> None:
        await self.send(text_data=p.json_dumps(payload))

    # --- receiving ---------------------------------------------------------------------------------

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if self.closing:
            return
        now = time.monotonic()
        self.last_rx = now
        self.busy += 1
        try:
            await self.handle(now, text_data, bytes_data)
        finally:
            self.busy -= 1
            self.last_rx = time.monotonic()

    async def handle(self, now: float, text_data: str | None, bytes_data: bytes | None) -> None:
        if not self.bucket.take(now):
            self.rate_drops += 1
            await self.send_json(p.error(p.ErrorCode.RATE_LIMITED, "too many messages; slow down"))
            if self.rate_drops >= MAX_RATE_DROPS:
                await self.shut(p.CloseCode.RATE_LIMITED)
            return
        try:
            if bytes_data is not None:
                await self.on_binary(bytes_data)
                return
            raw = text_data or ""
            if len(raw) > p.MAX_TEXT_FRAME_BYTES:
                await self.send_json(p.error(p.ErrorCode.MESSAGE_TOO_LARGE))
                await self.shut(p.CloseCode.MESSAGE_TOO_LARGE)
                return
            message = p.parse(self.role, raw)
            if not self.hello_done:
                await self.on_hello_gate(message)
                return
            await self.on_message(message)
        except p.ProtocolError as exc:
            await self.protocol_error(exc)
        except ApplicationError as exc:
            # A service refused (rule violation, forbidden, ...): tell the client, keep the socket.
            await self.send_json(p.error(exc.code, exc.message))

    async def protocol_error(self, exc: p.ProtocolError) -> None:
        self.protocol_errors += 1
        await self.send_json(p.error(exc.code, exc.message, seq=exc.seq))
        if self.protocol_errors >= MAX_PROTOCOL_ERRORS:
            await self.shut(p.CloseCode.PROTOCOL_ERROR)

    async def on_hello_gate(self, message: Any) -> None:
        if getattr(message, "type", "") != "hello":
            await self.send_json(p.error(p.ErrorCode.HELLO_REQUIRED, "send hello first"))
            await self.shut(p.CloseCode.HELLO_REQUIRED)
            return
        if message.version not in p.SUPPORTED_VERSIONS:
            await self.send_json(
                p.error(p.ErrorCode.UNSUPPORTED_VERSION, f"supported: {sorted(p.SUPPORTED_VERSIONS)}")
            )
            await self.shut(p.CloseCode.UNSUPPORTED_VERSION)
            return
        self.hello_done = True
        await self.on_hello(message)

    async def on_binary(self, data: bytes) -> None:
        raise p.ProtocolError(p.ErrorCode.BINARY_NOT_ALLOWED, "binary frames are for phone snapshots")

    async def on_hello(self, message: Any) -> None:
        raise NotImplementedError

    async def on_message(self, message: Any) -> None:
        raise NotImplementedError

    # --- liveness ----------------------------------------------------------------------------------

    async def watch(self) -> None:
        timeout = float(settings.HEARTBEAT_TIMEOUT_SECONDS)
        tick = min(1.0, timeout / 4)
        while not self.closing:
            await asyncio.sleep(tick)
            now = time.monotonic()
            if not self.hello_done and now - self.opened > HELLO_TIMEOUT_SECONDS:
                await self.send_json(p.error(p.ErrorCode.HELLO_REQUIRED, "no hello received"))
                await self.shut(p.CloseCode.HELLO_REQUIRED)
                return
            if now - self.last_rx > timeout and not self.busy:
                # Not while a message is being handled: the frames behind it wait in this socket's
                # queue, so a slow server (storage, database) is not taken for a silent phone.
                await self.on_silent()
                await self.shut(p.CloseCode.HEARTBEAT_TIMEOUT)
                return

    async def on_silent(self) -> None:
        """Hook: nothing received for the heartbeat timeout (before the socket is closed)."""

    # --- pushes from the channel layer -----------------------------------------------------------------

    async def push_send(self, event: dict[str, Any]) -> None:
        if not self.closing and self.hello_done:
            await self.send_json(event["payload"])

    async def push_many(self, event: dict[str, Any]) -> None:
        for payload in event["payloads"]:
            await self.push_send({"payload": payload})

    async def push_close(self, event: dict[str, Any]) -> None:
        sender = event.get("except_channel")
        if sender == self.channel_name:
            return
        opened_at = event.get("opened_at")  # p.envelope_supersede: only older sockets close
        if opened_at is not None and (self.opened_at, self.channel_name) > (opened_at, sender or ""):
            return
        await self.shut(int(event["code"]))

    async def supersede(self, group: str) -> None:
        """This socket replaces the group's older ones (one socket per device, per desktop)."""
        await self.channel_layer.group_send(
            group, p.envelope_supersede(channel=self.channel_name, opened_at=self.opened_at)
        )


class PhoneConsumer(BaseConsumer):
    """/ws/phone/?ticket=… — snapshots (binary), audio levels, heartbeats; acks after durable storage."""

    role = "phone"

    async def authenticate(self) -> None:
        ticket = await db(services.ws_ticket_consume)(raw=self.query_ticket(), role="phone")
        assert ticket.device_id is not None and ticket.attempt_id is not None
        self.device_id: int = ticket.device_id
        self.attempt_id: int = ticket.attempt_id
        self.last_db_touch = 0.0
        self.writer = writer_for_loop(db_writer)
        ensure_sweeper()
        # One socket per device: a newer socket of the same phone closes the older one.
        await self.join(p.group_device(self.device_id))
        await self.supersede(p.group_device(self.device_id))
        await self.join(p.group_attempt_phone(self.attempt_id))
        if ticket.auth_token_id is not None:
            await self.join(p.group_token(ticket.auth_token_id))

    async def on_hello(self, message: p.PhoneHello) -> None:
        session = await db(services.device_connected)(device_id=self.device_id)
        self.last_db_touch = time.monotonic()
        self.session_id = session.session_id
        self.meter = _audio_meter()
        timeout = float(settings.HEARTBEAT_TIMEOUT_SECONDS)
        await self.send_json(
            p.phone_hello_ok(
                device_id=self.device_id,
                attempt_id=self.attempt_id,
                resume_from=session.last_acked_seq,
                audio_resume_from=session.audio_resume_from,
                heartbeat_interval_s=round(timeout / 3, 2),
                heartbeat_timeout_s=timeout,
                snapshot_interval_s=session.snapshot_interval_s,
                max_image_bytes=int(settings.SNAPSHOT_MAX_BYTES),
                server_time=timezone.now(),
            )
        )
        if session.ended:
            await self.shut(p.CloseCode.ATTEMPT_ENDED)

    async def on_message(self, message: Any) -> None:
        if isinstance(message, p.PhoneHeartbeat):
            await self.touch()
            await self.send_json(p.heartbeat_ack(server_time=timezone.now()))
        elif isinstance(message, p.PhoneAudio):
            # Group commit with the other sockets' batches (monitor.writer); acked after the commit.
            await self.writer.audio(_audio_item(self.device_id, message))
            await self.touch()
            await self.send_json(p.audio_ack(seq=message.seq))
            await self.meter_update(message)
        elif isinstance(message, p.CommandAck):
            pass  # delivery receipt: the desktop's warning_ack is the candidate's acknowledgement
        elif isinstance(message, p.PhoneHello):
            raise p.ProtocolError(p.ErrorCode.INVALID, "hello was already received")

    async def on_binary(self, data: bytes) -> None:
        if not self.hello_done:
            await self.send_json(p.error(p.ErrorCode.HELLO_REQUIRED, "send hello first"))
            await self.shut(p.CloseCode.HELLO_REQUIRED)
            return
        frame = p.parse_snapshot_frame(data, max_image_bytes=int(settings.SNAPSHOT_MAX_BYTES))
        try:
            snapshot_id, received_at, duplicate = await db(_snapshot_ingest, "media")(self.device_id, frame)
        except ApplicationError as exc:
            # Rejected for good (not an image, too many pixels, ...): the phone drops this seq.
            await self.send_json(p.error(exc.code, exc.message, seq=frame.seq))
            return
        # Liveness with the writer's next group commit; the resume point (last_acked_seq) moved with
        # the stored row, in its transaction.
        self.last_db_touch = time.monotonic()
        self.writer.seen(self.device_id)
        # Only now is the frame durable: the ack is the phone's permission to drop it.
        await self.send_json(p.ack(seq=frame.seq, snapshot_id=snapshot_id, duplicate=duplicate))
        if not duplicate:
            await self.snapshot_show(snapshot_id=snapshot_id, seq=frame.seq, received_at=received_at)

    async def snapshot_show(self, *, snapshot_id: int, seq: int, received_at: datetime) -> None:
        """The new picture goes to the session's proctors as soon as it is stored: a live view must
        not wait for the analysis queue. The verdict follows from the worker (``flag``, and
        ``framing`` to this phone: monitor.broadcast.snapshot_push)."""
        await self.channel_layer.group_send(
            p.group_session_proctors(self.session_id),
            p.envelope_send(
                p.snapshot_delta(
                    attempt_id=self.attempt_id,
                    session_id=self.session_id,
                    snapshot_id=snapshot_id,
                    seq=seq,
                    thumbnail_url=broadcast.thumbnail_url(snapshot_id),
                    received_at=received_at,
                )
            ),
        )

    async def meter_update(self, message: p.PhoneAudio) -> None:
        """Fold the batch into the proctors' audio meter: one ``audio`` delta per window, not per batch
        (a resent batch, acked again after a reconnect, is counted again: a meter, not evidence)."""
        now = time.monotonic()
        summary = self.meter.add(list(message.levels), interval_ms=message.interval_ms, now=now)
        if summary is None:
            return
        group = p.group_session_proctors(self.session_id)
        at = timezone.now()
        # With the other phones' deltas of this session, one channel-layer message per window.
        fanout = fanout_for_loop(self.channel_layer)
        fanout.push(
            group,
            p.audio_delta(
                attempt_id=self.attempt_id,
                session_id=self.session_id,
                max_dbfs=summary.max_dbfs,
                mean_dbfs=summary.mean_dbfs,
                window_s=summary.window_s,
                readings=summary.readings,
                at=at,
            ),
        )
        if summary.loud_alert:
            data = {"max_dbfs": round(summary.max_dbfs, 1), "mean_dbfs": round(summary.mean_dbfs, 1)}
            fanout.push(
                group,
                p.alert(
                    attempt_id=self.attempt_id,
                    session_id=self.session_id,
                    kind="loud_audio",
                    at=at,
                    data=data,
                ),
            )

    async def touch(self) -> None:
        """Record liveness in the database at most every timeout/4 seconds (never per heartbeat),
        with the writer's next group commit (no thread hop, no wait)."""
        now = time.monotonic()
        if now - self.last_db_touch >= float(settings.HEARTBEAT_TIMEOUT_SECONDS) / 4:
            self.last_db_touch = now
            self.writer.seen(self.device_id)

    async def on_silent(self) -> None:
        if self.hello_done:
            await db(services.device_mark_lost)(device_id=self.device_id, reason="heartbeat_timeout")

    async def on_gone(self, code: int) -> None:
        # A dropped socket is not yet a lost phone: the sweep marks it lost once it stays silent for
        # the heartbeat timeout, counted from now (a Wi-Fi hand-over reconnects well within it).
        if getattr(self, "device_id", None) and self.hello_done and code != p.CloseCode.HEARTBEAT_TIMEOUT:
            await db(services.device_seen)(device_id=self.device_id)


def _audio_meter() -> AudioMeter:
    from media_pipeline import conf

    t = conf.audio_thresholds()
    return AudioMeter(
        now=time.monotonic(),
        interval_s=float(settings.WS_AUDIO_DELTA_INTERVAL_SECONDS),
        speech_dbfs=t.speech_dbfs,
        min_speech_ms=t.min_speech_ms,
        max_gap_ms=t.max_gap_ms,
    )


def _snapshot_ingest(device_id: int, frame: p.SnapshotFrame) -> tuple[int, datetime, bool]:
    from media_pipeline import services as media_services

    started = timezone.now()
    snapshot = media_services.snapshot_ingest(
        device_id=device_id, seq=frame.seq, data=frame.data, captured_at=frame.captured_at
    )
    # A repeat returns the row stored earlier (snapshot_ingest is idempotent on (device, seq)); its
    # received_at says so without a query of its own. It labels the ack and skips a second push.
    return snapshot.pk, snapshot.received_at, snapshot.received_at < started


def _audio_item(device_id: int, message: p.PhoneAudio) -> Any:
    from media_pipeline.services import AudioItem

    return AudioItem(
        device_id=device_id,
        seq=message.seq,
        interval_ms=message.interval_ms,
        levels=list(message.levels),
        started_at=message.started_at,
    )


class DesktopConsumer(BaseConsumer):
    """/ws/desktop/?ticket=… — pairing state, the monitoring indicator, focus and break events."""

    role = "desktop"

    async def authenticate(self) -> None:
        ticket = await db(services.ws_ticket_consume)(raw=self.query_ticket(), role="desktop")
        assert ticket.attempt_id is not None
        self.attempt_id: int = ticket.attempt_id
        group = p.group_attempt_desktop(self.attempt_id)
        await self.join(group)
        # One desktop socket per attempt: the newest wins.
        await self.supersede(group)
        if ticket.auth_token_id is not None:
            await self.join(p.group_token(ticket.auth_token_id))
        ensure_sweeper()

    async def on_hello(self, message: p.DesktopHello) -> None:
        phone, state, ended = await db(_desktop_hello)(self.attempt_id)
        self.last_db_touch = time.monotonic()
        await self.send_json(
            p.hello_ok(role="desktop", attempt_id=self.attempt_id, server_time=timezone.now())
        )
        await self.send_json(
            p.pairing(state=phone.state, device_id=phone.device_id, kind=phone.kind, since=phone.since)
        )
        await self.send_json(p.monitoring(on=phone.state == "online"))
        await self.send_json(p.status(state=state))
        if ended:
            await self.shut(p.CloseCode.ATTEMPT_ENDED)

    async def touch(self) -> None:
        """Liveness in the database at most every timeout/4 seconds (the sweep reads it)."""
        now = time.monotonic()
        if now - self.last_db_touch >= float(settings.HEARTBEAT_TIMEOUT_SECONDS) / 4:
            self.last_db_touch = now
            await db(services.desktop_seen)(attempt_id=self.attempt_id)

    async def on_silent(self) -> None:
        if self.hello_done:
            await db(services.desktop_mark_lost)(attempt_id=self.attempt_id, reason="heartbeat_timeout")

    async def on_gone(self, code: int) -> None:
        # A dropped socket is not yet a lost desktop (a network hand-over reconnects well within the
        # timeout): the sweep marks it lost once it stays silent for the timeout, counted from now.
        # A superseded socket has a newer one; an ended attempt has nothing left to lose.
        if self.hello_done and code not in _DESKTOP_GONE_QUIETLY:
            await db(services.desktop_seen)(attempt_id=self.attempt_id)

    async def on_message(self, message: Any) -> None:
        await self.touch()
        call = db(services.desktop_action)
        if isinstance(message, p.DesktopHeartbeat):
            await self.send_json(p.heartbeat_ack(server_time=timezone.now()))
        elif isinstance(message, p.Focus):
            action = "focus_lost" if message.state == "lost" else "focus_regained"
            await call(attempt_id=self.attempt_id, action=action, client_time=message.at)
        elif isinstance(message, p.BreakRequest):
            await call(attempt_id=self.attempt_id, action="break_request", data={"reason": message.reason})
        elif isinstance(message, p.BreakReturn):
            await call(attempt_id=self.attempt_id, action="break_return")
        elif isinstance(message, p.WarningAck):
            data = {"warning_id": message.warning_id} if message.warning_id else None
            await call(attempt_id=self.attempt_id, action="warning_ack", data=data)
        elif isinstance(message, p.MonitoringShown):
            await db(services.desktop_indicator)(attempt_id=self.attempt_id, shown=message.shown)
        elif isinstance(message, p.DesktopHello):
            raise p.ProtocolError(p.ErrorCode.INVALID, "hello was already received")


_DESKTOP_GONE_QUIETLY = frozenset(
    {p.CloseCode.SUPERSEDED, p.CloseCode.HEARTBEAT_TIMEOUT, p.CloseCode.ATTEMPT_ENDED}
)


def _desktop_hello(attempt_id: int) -> tuple[selectors.PhoneState, dict[str, Any], bool]:
    """(phone state, attempt state, ended). A live attempt's desktop is noted as connected (and
    restored if it had been lost); an ended one is only shown its final state."""
    ended = selectors.attempt_ended(attempt_id=attempt_id)
    if not ended:
        services.desktop_connected(attempt_id=attempt_id)
    return (
        selectors.phone_state(attempt_id=attempt_id),
        selectors.attempt_live_state(attempt_id=attempt_id),
        ended,
    )


class ProctorConsumer(BaseConsumer):
    """/ws/proctor/ — subscribe to sessions (initial state, then deltas) and send commands."""

    role = "proctor"

    async def authenticate(self) -> None:
        raw = self.query_ticket()
        if raw:
            ticket = await db_proctor(services.ws_ticket_consume)(raw=raw, role="proctor")
            self.user = ticket.user
        else:
            user = self.scope.get("user")
            if user is None or not user.is_authenticated:
                raise ApplicationError(
                    code="not_authenticated", http_status=401, message="log in or use a ticket"
                )
            self.user = user
        allowed = await db_proctor(_is_proctor)(self.user)
        if not allowed:
            raise ApplicationError(code="forbidden", http_status=403, message="proctor role required")
        self.subscribed: set[int] = set()

    async def on_hello(self, message: p.ProctorHello) -> None:
        await self.send_json(p.hello_ok(role="proctor", server_time=timezone.now()))

    async def on_message(self, message: Any) -> None:
        if isinstance(message, p.ProctorHeartbeat):
            await self.send_json(p.heartbeat_ack(server_time=timezone.now()))
        elif isinstance(message, p.Subscribe):
            # Join first, then read: a change in between arrives as a delta rather than being missed.
            group = p.group_session_proctors(message.session_id)
            try:
                await db_proctor(_check_session)(self.user, message.session_id)
            except ApplicationError as exc:
                await self.send_json(p.error(p.ErrorCode.FORBIDDEN, exc.message))
                return
            if message.session_id not in self.subscribed:
                await self.join(group)
                self.subscribed.add(message.session_id)
            info, attempts = await db_proctor(selectors.session_live_state)(
                user=self.user, session_id=message.session_id
            )
            await self.send_json(p.session_state(session=info, attempts=attempts))
        elif isinstance(message, p.Unsubscribe):
            if message.session_id in self.subscribed:
                group = p.group_session_proctors(message.session_id)
                await self.channel_layer.group_discard(group, self.channel_name)
                self.groups_joined.remove(group)
                self.subscribed.discard(message.session_id)
        elif isinstance(message, p.ProctorHello):
            raise p.ProtocolError(p.ErrorCode.INVALID, "hello was already received")
        else:
            await self.command(message)

    async def command(self, message: Any) -> None:
        data = message.model_dump(exclude={"type", "attempt_id", "request_id"}, exclude_defaults=True)
        try:
            await db_proctor(services.proctor_command)(
                user=self.user, attempt_id=message.attempt_id, kind=message.type, data=data
            )
        except ApplicationError as exc:
            await self.send_json(
                p.command_result(request_id=message.request_id, ok=False, code=exc.code, message=exc.message)
            )
            return
        await self.send_json(p.command_result(request_id=message.request_id, ok=True))

    async def push_send(self, event: dict[str, Any]) -> None:
        # Deltas of sessions this socket subscribed to only (groups are the filter; this is the guard).
        if not self.closing and self.hello_done and event["payload"].get("session_id", 0) in self.subscribed:
            await self.send_json(event["payload"])


def _is_proctor(user: Any) -> bool:
    from accounts import roles

    return roles.is_proctor(user)


def _check_session(user: Any, session_id: int) -> None:
    if not selectors.proctor_can_see_session(user=user, session_id=session_id):
        from monitor.errors import ProctorForbidden

        raise ProctorForbidden()
