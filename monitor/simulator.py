"""Reference client: plays the desktop exam client and the phone monitor of N candidates through the
real HTTP and WebSocket API (``manage.py simulate_candidates``).

Per candidate: WeChat login (the fake server accepts ``user-<name>-<nonce>`` codes), binding,
desktop login, the desktop's socket, a pairing QR token claimed by the phone, the exam start, then
the phone streams snapshots (binary frames, resent after a reconnect until acked), audio levels
and heartbeats while the desktop sends heartbeats, one short focus loss and acknowledges
warnings. No Django imports: it is also the example a client developer can read.

Each simulated candidate sends its own ``X-Forwarded-For`` address, as candidates at home have
their own IPs: per-IP login throttles would otherwise count 50 candidates as one abuser.
"""

from __future__ import annotations

import asyncio
import io
import json
import random
import secrets
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import requests
import websockets

from monitor import protocol as p

MAX_IMAGE_BYTES = 1_000_000


@dataclass(frozen=True)
class CandidateLogin:
    ticket_number: str
    id_number: str
    session_id: int | None = None


@dataclass
class Stats:
    candidates_ready: int = 0
    snapshots_sent: int = 0
    snapshots_acked: int = 0
    duplicates_acked: int = 0
    audio_sent: int = 0
    audio_acked: int = 0
    heartbeats: int = 0
    focus_events: int = 0
    warnings_acked: int = 0
    pushes_received: Counter[str] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)

    def error(self, code: str) -> None:
        self.errors[code] += 1

    def summary(self) -> dict[str, Any]:
        return {
            "candidates_ready": self.candidates_ready,
            "snapshots_sent": self.snapshots_sent,
            "snapshots_acked": self.snapshots_acked,
            "duplicates_acked": self.duplicates_acked,
            "audio_sent": self.audio_sent,
            "audio_acked": self.audio_acked,
            "heartbeats": self.heartbeats,
            "focus_events": self.focus_events,
            "warnings_acked": self.warnings_acked,
            "pushes_received": dict(self.pushes_received),
            "errors": dict(self.errors),
            "error_count": sum(self.errors.values()),
        }


def load_images(directory: Path | None) -> list[bytes]:
    """JPEG/PNG files from ``directory``; else photos from scikit-image's data (if installed); else
    generated frames. Images are re-encoded as 640×480 JPEG (what a phone's takePhoto sends)."""
    from PIL import Image, ImageDraw

    sources: list[Image.Image] = []
    paths: list[Path] = []
    if directory is not None:
        paths = sorted(q for q in directory.iterdir() if q.suffix.lower() in (".jpg", ".jpeg", ".png"))
        if not paths:
            raise ValueError(f"no .jpg/.jpeg/.png images in {directory}")
    else:
        try:
            import skimage

            data = Path(skimage.__file__).parent / "data"
            paths = [data / n for n in ("astronaut.png", "camera.png", "coffee.png") if (data / n).exists()]
        except ImportError:
            paths = []
    for path in paths:
        with Image.open(path) as opened:
            sources.append(opened.convert("RGB"))
    if not sources:
        for i in range(3):
            drawn = Image.new("RGB", (640, 480), (60 + 40 * i, 90, 130))
            draw = ImageDraw.Draw(drawn)
            draw.ellipse((260, 90, 380, 230), fill=(225, 185, 155))
            draw.rectangle((200, 230, 440, 480), fill=(40, 40, 100))
            sources.append(drawn)
    frames = []
    for img in sources:
        buf = io.BytesIO()
        img.resize((640, 480)).save(buf, "JPEG", quality=80)
        if buf.tell() <= MAX_IMAGE_BYTES:
            frames.append(buf.getvalue())
    return frames


class Http:
    """Blocking HTTP (requests) run in threads; one session per simulated device."""

    def __init__(self, base: str, client_ip: str) -> None:
        self.base = base.rstrip("/")
        self.session = requests.Session()
        self.session.headers["X-Forwarded-For"] = client_ip

    async def post(self, path: str, body: dict[str, Any], token: str | None = None) -> dict[str, Any]:
        headers = {"Authorization": f"Bearer {token}"} if token else {}

        def call() -> requests.Response:
            return self.session.post(self.base + path, json=body, headers=headers, timeout=30)

        response = await asyncio.to_thread(call)
        if response.status_code >= 400:
            try:
                code = response.json().get("code", "http_error")
            except ValueError:
                code = "http_error"
            raise SimulationError(f"http_{response.status_code}_{code}", path)
        result: dict[str, Any] = response.json()
        return result


class SimulationError(Exception):
    def __init__(self, code: str, where: str = "") -> None:
        self.code = code
        super().__init__(f"{code} at {where}")


class Candidate:
    def __init__(
        self,
        index: int,
        login: CandidateLogin,
        base_url: str,
        images: Sequence[bytes],
        stats: Stats,
        opts: Options,
    ) -> None:
        self.i, self.login, self.images, self.stats, self.opts = index, login, images, stats, opts
        ip = f"10.{77 + index // 62500}.{index // 250 % 250}.{index % 250 + 1}"
        self.desktop_http = Http(base_url, ip)
        self.phone_http = Http(base_url, ip)
        self.ws_base = base_url.rstrip("/").replace("https://", "wss://").replace("http://", "ws://")
        self.origin = base_url.rstrip("/")
        self.unacked: dict[int, bytes] = {}  # seq → frame: resent after a reconnect until acked
        self.next_seq = 1
        self.audio_seq = 1
        self.audio_unacked: set[int] = set()
        self.stop = asyncio.Event()

    async def prepare(self) -> str:
        """Logins, binding, pairing through the QR URL token. Returns the phone's WebSocket URL."""
        code = f"user-{self.login.ticket_number}-{secrets.token_hex(6)}"
        wx = await self.phone_http.post("/api/v1/auth/wechat-login", {"code": code})
        self.phone_token = wx["token"]
        await self.phone_http.post(
            "/api/v1/auth/bind",
            {"ticket_number": self.login.ticket_number, "id_number": self.login.id_number},
            self.phone_token,
        )
        body: dict[str, Any] = {"ticket_number": self.login.ticket_number, "id_number": self.login.id_number}
        if self.login.session_id:
            body["session_id"] = self.login.session_id
        desk = await self.desktop_http.post("/api/v1/auth/desktop-login", body)
        self.desktop_token = desk["token"]
        pairing = await self.desktop_http.post("/api/v1/pairing/tokens", {}, self.desktop_token)
        token = pairing["url"].split("?t=", 1)[1]  # what the phone reads from the QR code
        claim = await self.phone_http.post("/api/v1/pairing/claim", {"token": token}, self.phone_token)
        if claim["confirm_code"] != pairing["confirm_code"]:
            raise SimulationError("confirm_code_mismatch", "pairing")
        return str(claim["ws_url"])

    async def stream(self, phone_url: str, duration: float) -> None:
        """Both sockets for ``duration`` seconds: the exam as the server sees it."""
        desktop_url = (
            await self.desktop_http.post("/api/v1/ws-tickets", {"role": "desktop"}, self.desktop_token)
        )["url"]
        async with websockets.connect(
            desktop_url, origin=websockets.Origin(self.origin), open_timeout=30
        ) as desktop:
            await desktop.send(
                p.json_dumps({"type": "hello", "version": p.PROTOCOL_VERSION, "client": "simulator"})
            )
            desktop_reader = asyncio.create_task(self.read_desktop(desktop))
            phone_task = asyncio.create_task(self.phone_session(phone_url, duration))
            await self.desktop_http.post(
                "/api/v1/attempt/actions", {"action": "start", "data": {"consent": True}}, self.desktop_token
            )
            self.stats.candidates_ready += 1
            await self.desktop_loop(desktop, duration)
            await phone_task
            desktop_reader.cancel()

    async def desktop_loop(self, desktop: Any, duration: float) -> None:
        started = time.monotonic()
        focus_at = random.uniform(0.2, 0.6) * duration  # noqa: S311 - simulation, not security
        focus_done = False
        while time.monotonic() - started < duration:
            await asyncio.sleep(min(1.0, duration / 4))
            await desktop.send(p.json_dumps({"type": "heartbeat"}))
            if not focus_done and time.monotonic() - started >= focus_at and self.opts.focus_events:
                focus_done = True
                now = datetime.now(UTC).isoformat()
                await desktop.send(p.json_dumps({"type": "focus", "state": "lost", "at": now}))
                await asyncio.sleep(0.5)  # back well within the 20 s rule
                await desktop.send(p.json_dumps({"type": "focus", "state": "regained"}))
                self.stats.focus_events += 2

    async def read_desktop(self, desktop: Any) -> None:
        try:
            async for raw in desktop:
                msg = json.loads(raw)
                kind = msg.get("type", "")
                self.stats.pushes_received[f"desktop.{kind}"] += 1
                if kind == "error":
                    self.stats.error(f"desktop.{msg.get('code')}")
                elif kind == "warning":
                    await desktop.send(
                        p.json_dumps({"type": "warning_ack", "warning_id": msg.get("warning_id")})
                    )
                    self.stats.warnings_acked += 1
        except websockets.ConnectionClosed as exc:
            if exc.rcvd is not None and exc.rcvd.code >= 4000:
                self.stats.error(f"desktop.closed_{exc.rcvd.code}")

    async def phone_session(self, url: str, duration: float) -> None:
        """One phone socket; on an unexpected drop, reconnect with a new ticket and resume."""
        deadline = time.monotonic() + duration
        reconnects = 0
        while True:
            try:
                await self.phone_stream(url, deadline)
                return
            except (websockets.ConnectionClosedError, websockets.InvalidHandshake, OSError) as exc:
                reconnects += 1
                if reconnects > 3:
                    self.stats.error(f"phone.dropped_{type(exc).__name__}")
                    return
                ticket = await self.phone_http.post("/api/v1/ws-tickets", {"role": "phone"}, self.phone_token)
                url = ticket["url"]

    async def phone_stream(self, url: str, deadline: float) -> None:
        async with websockets.connect(url, max_size=2**20, open_timeout=30) as ws:
            await ws.send(
                p.json_dumps({"type": "hello", "version": p.PROTOCOL_VERSION, "device": {"platform": "sim"}})
            )
            hello = json.loads(await ws.recv())
            if hello.get("type") != "hello_ok":
                self.stats.error(f"phone.{hello.get('code', 'no_hello_ok')}")
                return
            for seq in [s for s in self.unacked if s <= hello["resume_from"]]:
                del self.unacked[seq]  # stored before the drop
            for _seq, frame in sorted(self.unacked.items()):
                await ws.send(frame)
            beat = float(hello["heartbeat_interval_s"])
            reader = asyncio.create_task(self.read_phone(ws))
            next_snap = next_audio = next_beat = time.monotonic()
            try:
                while time.monotonic() < deadline:
                    now = time.monotonic()
                    if now >= next_snap:
                        await self.send_snapshot(ws)
                        next_snap = now + self.opts.snapshot_interval
                    if now >= next_audio:
                        levels = [round(random.uniform(-60, -35), 1) for _ in range(10)]  # noqa: S311
                        body = {"type": "audio", "seq": self.audio_seq, "interval_ms": 100, "levels": levels}
                        await ws.send(p.json_dumps(body))
                        self.audio_unacked.add(self.audio_seq)
                        self.audio_seq += 1
                        self.stats.audio_sent += 1
                        next_audio = now + 1.0
                    if now >= next_beat:
                        await ws.send(p.json_dumps({"type": "heartbeat", "battery": 90}))
                        self.stats.heartbeats += 1
                        next_beat = now + beat
                    await asyncio.sleep(0.2)
                # Give the last acks a moment: a frame without an ack is reported.
                end = time.monotonic() + 20
                while (self.unacked or self.audio_unacked) and time.monotonic() < end:
                    await asyncio.sleep(0.1)
            finally:
                reader.cancel()
            for _ in self.unacked:
                self.stats.error("phone.snapshot_not_acked")
            for _ in self.audio_unacked:
                self.stats.error("phone.audio_not_acked")

    async def send_snapshot(self, ws: Any) -> None:
        seq = self.next_seq
        self.next_seq += 1
        image = self.images[(self.i + seq) % len(self.images)]
        frame = p.build_snapshot_frame(seq=seq, data=image, captured_at=datetime.now(UTC))
        self.unacked[seq] = frame
        await ws.send(frame)
        self.stats.snapshots_sent += 1

    async def read_phone(self, ws: Any) -> None:
        async for raw in ws:
            msg = json.loads(raw)
            kind = msg.get("type", "")
            self.stats.pushes_received[f"phone.{kind}"] += 1
            if kind == "ack":
                if self.unacked.pop(msg["seq"], None) is not None:
                    self.stats.snapshots_acked += 1
                    self.stats.duplicates_acked += int(bool(msg.get("duplicate")))
            elif kind == "audio_ack":
                if msg["seq"] in self.audio_unacked:
                    self.audio_unacked.discard(msg["seq"])
                    self.stats.audio_acked += 1
            elif kind == "command":
                await ws.send(p.json_dumps({"type": "command_ack", "command_id": msg["command_id"]}))
            elif kind == "error":
                self.stats.error(f"phone.{msg.get('code')}")
                if msg.get("seq") is not None:
                    self.unacked.pop(msg["seq"], None)  # refused for good: drop it


@dataclass(frozen=True)
class Options:
    snapshot_interval: float = 3.0
    focus_events: bool = True
    concurrency: int = 10


async def simulate(
    *,
    base_url: str,
    logins: Sequence[CandidateLogin],
    images: Sequence[bytes],
    duration: float,
    opts: Options,
) -> Stats:
    stats = Stats()
    gate = asyncio.Semaphore(opts.concurrency)

    async def one(i: int, login: CandidateLogin) -> None:
        candidate = Candidate(i, login, base_url, images, stats, opts)
        try:
            async with gate:  # logins and pairing a few at a time; then everyone streams at once
                phone_url = await candidate.prepare()
            await candidate.stream(phone_url, duration)
        except SimulationError as exc:
            stats.error(exc.code)
        except Exception as exc:  # noqa: BLE001 - one candidate's failure is counted, the others go on
            stats.error(f"exception_{type(exc).__name__}")

    await asyncio.gather(*(one(i, login) for i, login in enumerate(logins)))
    return stats
