"""Load benchmark: N phones and M proctors against ONE ASGI server process, and the same load against a
bare ``websockets`` echo server (the Python ceiling) in the same run. Not a test: it prints a table
and JSON. Servers (``--servers``, in order): ``daphne`` (production's), ``uvicorn`` (stdlib asyncio +
h11), ``uvicorn-uvloop`` (uvloop + httptools), ``daphne-echo`` (daphne serving a bare ASGI echo app,
benchmarks/asgi_echo.py: the server's own floor), ``daphne-channels-echo`` (the same answers from a
Channels consumer with the channel layer: daphne + Channels' floor) and ``echo``.

    # embedded profile (SQLite, in-memory channel layer, in-process analysis, local files)
    .venv/bin/python benchmarks/load_benchmark.py --phones 1000 --servers daphne,uvicorn,echo

    # production profile: the machine's PostgreSQL (a scratch database, created and dropped here),
    # a private Redis (channel layer + broker), SeaweedFS S3, one Celery worker analysing frames
    .venv/bin/python benchmarks/load_benchmark.py --profile production --phones 1000 \
        --servers daphne,uvicorn,echo

Each phone sends one audio batch per second, a 40 KB JPEG every 10 s and a heartbeat every 5 s
(docs/protocol.md) and times the ack of each. Phones sit in exam rooms (``--room-size``, one session
each); proctors subscribe to all rooms between them and time each ``snapshot`` delta: snapshot sent
→ proctor screen (stored and pushed; the picture does not wait for the analysis), and each phone
times its ``framing`` message: snapshot sent → verdict (stored, analysed by the Celery worker,
pushed back). Fast path: sessions, attempts, devices and
single-use WebSocket tickets are bulk-created in the database (no WeChat login per phone).

The client is light (pre-built frames, one reader per socket) and can run in several processes
(``--client-procs``); it still shares the 2 cores with the server, so its CPU is reported too. The
stable measure is the server's CPU time per ack; the ceiling ratio is echo CPU/ack ÷ server CPU/ack
(the share of the Python ceiling's capacity one server process reaches). ``--py-spy DIR`` records
a py-spy profile of the server (flame graph + collapsed stacks) for each run.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import io
import json
import math
import multiprocessing
import os
import secrets
import shutil
import struct
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
VENV_BIN = Path(sys.executable).parent
ECHO_SERVER = """
import asyncio, sys
from websockets.asyncio.server import serve
from benchmarks.asgi_echo import answer  # the same answers as daphne-echo's
async def handle(ws):
    async for message in ws:
        reply = answer({"bytes": message} if isinstance(message, bytes) else {"text": message})
        if reply is not None:
            await ws.send(reply)
async def main():
    async with serve(handle, "127.0.0.1", int(sys.argv[1]), max_size=2**21, compression=None):
        await asyncio.Future()
asyncio.run(main())
"""
DAPHNE_APPS = {
    "daphne": "config.asgi:application",
    "daphne-echo": "benchmarks.asgi_echo:application",
    "daphne-channels-echo": "benchmarks.asgi_echo:channels_application",
}
APP_SERVERS = frozenset({"daphne", "uvicorn", "uvicorn-uvloop"})  # this application: tickets in the database
BARE_SERVERS = frozenset({"echo", "daphne-echo"})  # no Django at all: no profile environment
WS_MAX = str(1024 * 1024 + 1024 + 4 + 64 * 1024)  # tests/services.WS_MAX_MESSAGE_BYTES


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def phone_photos(count: int) -> list[bytes]:
    """640-px JPEGs of ~40 KB of a person in view (the usual frame: analysis passes, no incident),
    each slightly different so content addressing stores every frame (as with a real camera)."""
    import numpy as np
    from PIL import Image

    from tests.media_pipeline import images

    base = np.asarray(Image.open(io.BytesIO(images.photo_jpeg("astronaut"))).convert("RGB"), dtype=np.int16)
    out = []
    for i in range(count):
        rng = np.random.default_rng(i)
        frame = np.clip(base + rng.integers(-6, 7, base.shape), 0, 255).astype("uint8")
        buf = io.BytesIO()
        Image.fromarray(frame).save(buf, "JPEG", quality=70)
        out.append(buf.getvalue())
    return out


# --- fast-path setup in the database --------------------------------------------------------------


def setup_database(phones: int, proctors: int, room_size: int) -> tuple[list[str], list[str], list[int]]:
    """Bulk-create running sessions (rooms), N attempts with paired devices and phone tickets, M proctors."""
    from datetime import timedelta

    from django.utils import timezone

    from accounts.models import Candidate, Role, User
    from accounts.roles import role_assign
    from exams.models import Attempt, ExamSession, Subject
    from monitor import services as monitor_services
    from monitor.models import PhoneDevice, WsTicket

    now = timezone.now()
    subject, _ = Subject.objects.get_or_create(code="bench", defaults={"name": "压测", "name_en": "bench"})
    rooms = ExamSession.objects.bulk_create(
        ExamSession(
            subject=subject,
            level="junior",
            starts_at=now - timedelta(minutes=5),
            ends_at=now + timedelta(hours=3),
        )
        for _ in range(max(1, -(-phones // room_size)))
    )
    tag = secrets.token_hex(3)
    candidates = Candidate.objects.bulk_create(
        Candidate(
            ticket_number=f"9{i:06d}{tag[:4]}"[:11],
            name=f"考生{i}",
            id_number_hash=hashlib.sha256(f"{tag}-{i}".encode()).hexdigest(),
            id_number_encrypted="-",
            id_number_masked="1101**********0000",
        )
        for i in range(phones)
    )
    attempts = Attempt.objects.bulk_create(
        Attempt(candidate=c, session=rooms[i // room_size], status="in_progress", started_at=now)
        for i, c in enumerate(candidates)
    )
    devices = PhoneDevice.objects.bulk_create(
        # last_seen_at None like a freshly paired phone: the liveness sweep only watches phones that
        # have connected (a ramp of 2,000 phones is longer than the heartbeat timeout).
        PhoneDevice(attempt=a, kind=PhoneDevice.Kind.MINIPROGRAM, last_seen_at=None)
        for a in attempts
    )
    raws = [secrets.token_urlsafe(24) for _ in devices]
    WsTicket.objects.bulk_create(
        WsTicket(
            ticket_hash=hashlib.sha256(raw.encode()).hexdigest(),
            role=WsTicket.Role.PHONE,
            attempt=d.attempt,
            device=d,
            expires_at=now + timedelta(hours=1),
        )
        for raw, d in zip(raws, devices, strict=True)
    )
    proctor_tickets = []
    for j in range(proctors):
        user = User.objects.create_user(username=f"bench-{tag}-{j}", password=secrets.token_hex(8))
        role_assign(user=user, role=Role.PROCTOR)
        for room in rooms:
            room.proctors.add(user)
        proctor_tickets.append(monitor_services.ws_ticket_issue(role="proctor", user=user).raw)
    return raws, proctor_tickets, [r.pk for r in rooms]


# --- the load (runs in --client-procs processes) ----------------------------------------------------


@dataclass
class ClientStats:
    acks: list[tuple[float, float]] = field(default_factory=list)  # (received at, ms), all kinds
    audio_acks: list[tuple[float, float]] = field(default_factory=list)
    snapshot_acks: list[tuple[float, float]] = field(default_factory=list)
    connected: int = 0
    failures: int = 0
    closed_early: dict[str, int] = field(default_factory=dict)  # close code → sockets
    sent: dict[str, float] = field(default_factory=dict)  # "attempt:seq" → monotonic sent time
    shown: dict[str, float] = field(default_factory=dict)  # "attempt:seq" → proctor receive time
    verdict: dict[str, float] = field(default_factory=dict)  # "attempt:seq" → phone got its framing
    proctor_messages: int = 0
    cpu_s: float = 0.0


ACK_KEYS = {"ack": "s", "audio_ack": "a", "heartbeat_ack": "h"}


async def phone(
    url: str, images: list[bytes], duration: float, stats: ClientStats, stagger: float, every: int
) -> None:
    from websockets.asyncio.client import connect
    from websockets.exceptions import ConnectionClosed

    await asyncio.sleep(stagger)
    ws = None
    try:
        ws = await connect(url, max_size=2**22, compression=None, open_timeout=120, ping_interval=None)
        await ws.send('{"type":"hello","version":1,"device":{"platform":"bench"}}')
        hello = json.loads(await ws.recv())
        while hello.get("type") != "hello_ok":
            hello = json.loads(await ws.recv())
        attempt_id = int(hello.get("attempt_id", 0))
        stats.connected += 1
        pending: dict[tuple[str, int], float] = {}

        async def reader() -> None:
            async for raw in ws:
                msg = json.loads(raw)
                key = ACK_KEYS.get(msg.get("type"))
                if key is None:
                    if msg.get("type") == "framing":  # the worker's analysis of a frame, pushed
                        stats.verdict[f"{attempt_id}:{msg.get('seq')}"] = time.perf_counter()
                    continue
                sent = pending.pop((key, msg.get("seq", 0) if key != "h" else 0), None)
                if sent is not None:
                    now = time.perf_counter()
                    ack = (now, (now - sent) * 1000)
                    stats.acks.append(ack)
                    if key != "h":
                        (stats.snapshot_acks if key == "s" else stats.audio_acks).append(ack)

        task = asyncio.create_task(reader())
        start = time.perf_counter()
        tick = 0
        offset = secrets.randbelow(every or 1)
        audio_tail = ',"interval_ms":100,"levels":[' + ",".join(["-45.5"] * 10) + "]}"
        while time.perf_counter() - start < duration and not task.done():
            tick += 1
            pending[("a", tick)] = time.perf_counter()
            await ws.send('{"type":"audio","seq":' + str(tick) + audio_tail)
            if tick % 5 == 0:
                pending[("h", 0)] = time.perf_counter()
                await ws.send('{"type":"heartbeat"}')
            if every and (tick + offset) % every == 0:
                seq = (tick + offset) // every
                header = b'{"type":"snapshot","seq":' + str(seq).encode() + b"}"
                now = time.perf_counter()
                pending[("s", seq)] = now
                stats.sent[f"{attempt_id}:{seq}"] = now
                image = images[(attempt_id * 7 + seq) % len(images)]
                await ws.send(struct.pack("!I", len(header)) + header + image)
            await asyncio.sleep(1.0 - (time.perf_counter() - start) % 1.0)
        if task.done():  # the server closed the socket before the end
            rcvd = ws.protocol.close_rcvd
            code = str(rcvd.code) if rcvd is not None else "no close frame"
            stats.closed_early[code] = stats.closed_early.get(code, 0) + 1
            return
        await asyncio.sleep(2.0)  # late acks
        task.cancel()
    except ConnectionClosed as exc:
        code = str(exc.rcvd.code) if exc.rcvd is not None else "no close frame"
        stats.closed_early[code] = stats.closed_early.get(code, 0) + 1
    except Exception as exc:  # noqa: BLE001 - counted, reported
        stats.failures += 1
        stats.closed_early[type(exc).__name__] = stats.closed_early.get(type(exc).__name__, 0) + 1
    finally:
        if ws is not None:
            await ws.close()


async def proctor(url: str, session_ids: list[int], duration: float, stats: ClientStats) -> None:
    from websockets.asyncio.client import connect
    from websockets.typing import Origin

    try:
        async with connect(
            url,
            max_size=2**24,
            compression=None,
            open_timeout=120,
            ping_interval=None,
            origin=Origin("http://127.0.0.1"),
        ) as ws:
            await ws.send('{"type":"hello","version":1}')
            for sid in session_ids:
                await ws.send(json.dumps({"type": "subscribe", "session_id": sid}))
            end = time.perf_counter() + duration + 25
            beat = time.perf_counter()
            while time.perf_counter() < end:
                if time.perf_counter() - beat > 4:  # the server closes silent sockets (4006)
                    beat = time.perf_counter()
                    await ws.send('{"type":"heartbeat"}')
                try:
                    raw = await asyncio.wait_for(ws.recv(), timeout=2)
                except TimeoutError:
                    continue
                stats.proctor_messages += 1
                if '"snapshot"' in raw[:40]:
                    msg = json.loads(raw)
                    if msg.get("type") == "snapshot":
                        stats.shown[f"{msg['attempt_id']}:{msg['seq']}"] = time.perf_counter()
    except Exception as exc:  # noqa: BLE001 - counted, reported
        stats.failures += 1
        name = f"proctor {type(exc).__name__} {getattr(getattr(exc, 'rcvd', None), 'code', '')}"
        stats.closed_early[name] = stats.closed_early.get(name, 0) + 1


def client_process(job: dict[str, Any]) -> dict[str, Any]:
    """One client process: its share of phones (and proctors). Returns ClientStats as a dict."""
    import resource

    stats = ClientStats()
    images = job["images"]
    rusage0 = resource.getrusage(resource.RUSAGE_SELF)

    async def drive() -> None:
        tasks = [proctor(url, rooms, job["duration"], stats) for url, rooms in job["proctors"]]
        n, ramp = len(job["phones"]), job["ramp"]
        tasks += [
            phone(url, images, job["duration"], stats, ramp * i / max(1, n), job["every"])
            for i, url in enumerate(job["phones"])
        ]
        await asyncio.gather(*tasks)

    asyncio.run(drive())
    r = resource.getrusage(resource.RUSAGE_SELF)
    stats.cpu_s = (r.ru_utime + r.ru_stime) - (rusage0.ru_utime + rusage0.ru_stime)
    return asdict(stats)


# --- servers and services --------------------------------------------------------------------------


def start_server(kind: str, port: int, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    if kind in DAPHNE_APPS:
        args = [
            str(VENV_BIN / "daphne"), "-v", "0", "-b", "127.0.0.1", "-p", str(port),
            "--websocket-max-message-size", WS_MAX, "--websocket-max-frame-size", WS_MAX, DAPHNE_APPS[kind],
        ]  # fmt: skip
    elif kind in ("uvicorn", "uvicorn-uvloop"):
        # uvicorn: the stdlib asyncio loop and h11, as daphne has; uvicorn-uvloop: uvloop + httptools
        # (requirements-dev.txt), uvicorn's fastest set-up.
        loop = (
            ["--loop", "uvloop", "--http", "httptools"]
            if kind == "uvicorn-uvloop"
            else ["--loop", "asyncio", "--http", "h11"]
        )
        args = [
            str(VENV_BIN / "uvicorn"), "--host", "127.0.0.1", "--port", str(port), "--log-level",
            "warning", "--no-access-log", "--ws", "websockets", "--ws-max-size", WS_MAX,
            "--ws-per-message-deflate", "false", "--lifespan", "off", *loop, "config.asgi:application",
        ]  # fmt: skip
    else:
        args = [sys.executable, "-c", ECHO_SERVER, str(port)]
    out = open(log, "ab")  # noqa: SIM115 - the child owns it
    proc = subprocess.Popen(args, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    import socket

    for _ in range(600):
        if proc.poll() is not None:
            raise RuntimeError(f"{kind} exited; see {log}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return proc
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"{kind} did not start; see {log}")


@contextmanager
def scratch_postgres() -> Iterator[str]:
    """The URL of a scratch database on the machine's PostgreSQL, dropped afterwards (FORCE: with any
    connection still open to it)."""
    from tests import services

    base = services.ensure_postgres()
    name = f"bench_{secrets.token_hex(4)}"
    _psql(base, f'CREATE DATABASE "{name}"')
    try:
        yield base.rsplit("/", 1)[0] + "/" + name
    finally:
        _psql(base, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _psql(url: str, statement: str) -> None:
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(statement)


class Profile:
    """The server environment: embedded (SQLite or --database-url) or production (real services)."""

    def __init__(self, args: argparse.Namespace, work: Path) -> None:
        self.kind, self.work = args.profile, work
        self.started: list[Any] = []
        self.worker: Any = None
        self.scratch = ExitStack()
        if self.kind == "embedded":
            self.env = {
                **os.environ,
                "DJANGO_SETTINGS_MODULE": "config.settings.embedded",
                "MONITOR_DATA_DIR": str(work / "data"),
                "DATABASE_URL": args.database_url or f"sqlite:///{work}/bench.sqlite3",
                "DJANGO_DEBUG": "0",
            }
        else:
            from tests import harness, services

            env, self.started = harness.production_env(work)
            env.pop("DATABASE_TEST_NAME", None)
            env["DATABASE_URL"] = self.scratch.enter_context(scratch_postgres())
            self.env = env
        os.environ.update(self.env)
        import django

        django.setup()
        from django.core.management import call_command

        call_command("migrate", verbosity=0)
        if self.kind == "production" and args.worker_concurrency > 0:
            from tests import services

            self.worker = services.start_celery_worker(
                self.env, log_dir=work, concurrency=args.worker_concurrency
            )

    def close(self) -> None:
        from django.db import connections

        connections.close_all()
        if self.worker is not None:
            self.worker.stop()
        for proc in self.started:
            proc.stop()
        self.scratch.close()


def cpu_of(proc: Any) -> float:
    """CPU seconds of a process and its live children (a Celery worker's prefork pool)."""
    if proc is None:
        return 0.0
    total = 0.0
    try:
        for p in [proc, *proc.children(recursive=True)]:
            t = p.cpu_times()
            total += float(t.user + t.system)
    except Exception:  # noqa: BLE001 - a process ended meanwhile
        pass
    return total


def connect_ramp(phones: int) -> float:
    """Seconds over which the phones connect; the steady window starts 8 s after it."""
    return min(30.0, phones / 80)


def run_one(kind: str, args: argparse.Namespace, profile: Profile | None) -> dict[str, Any]:
    import psutil

    phone_tickets: list[str]
    proctor_tickets: list[str]
    rooms: list[int]
    if kind in APP_SERVERS:
        assert profile is not None
        phone_tickets, proctor_tickets, rooms = setup_database(args.phones, args.proctors, args.room_size)
    else:  # the echo servers answer any ticket
        phone_tickets, proctor_tickets, rooms = [""] * args.phones, [], []
    env = dict(os.environ) if kind in BARE_SERVERS or profile is None else profile.env
    port = 20000 + secrets.randbelow(20000)
    server = start_server(kind, port, env, Path(args.work) / f"{kind}.log")
    ps = psutil.Process(server.pid)
    worker_ps = (
        psutil.Process(profile.worker.popen.pid)
        if profile and profile.worker and kind not in BARE_SERVERS
        else None
    )
    time.sleep(1.5)
    rss_idle = ps.memory_info().rss
    ws_base = f"ws://127.0.0.1:{port}"
    # Jobs: phones split across client processes; proctors (each subscribed to a share of the rooms)
    # in the first one.
    procs = max(1, args.client_procs)
    ramp = connect_ramp(args.phones)
    images = phone_photos(64)
    jobs: list[dict[str, Any]] = [
        {
            "phones": [],
            "proctors": [],
            "duration": args.duration,
            "ramp": ramp,
            "images": images,
            "every": args.snapshot_every,
        }
        for _ in range(procs)
    ]
    for i, t in enumerate(phone_tickets):
        jobs[i % procs]["phones"].append(f"{ws_base}/ws/phone/?ticket={t}")
    for j, t in enumerate(proctor_tickets):
        jobs[0]["proctors"].append((f"{ws_base}/ws/proctor/?ticket={t}", rooms[j :: len(proctor_tickets)]))
    profiler = None
    profiler_args: list[str] = []
    load0 = load1 = (0.0, 0.0, 0.0)
    # The steady state: every phone connected (ramp + slack) until the first phones stop. Connecting
    # (tickets, hello, proctors' initial state) is a one-off cost reported apart (connect_cpu_s).
    window = (ramp + 8.0, args.duration)
    if args.py_spy and kind != "echo":  # recorded during the steady window
        out = Path(args.py_spy)
        out.mkdir(parents=True, exist_ok=True)
        stem = out / f"{kind}-{args.profile}-{args.phones}"
        profiler_args = [
            str(VENV_BIN / "py-spy"), "record", "--pid", str(server.pid), "--rate", "50", "--format",
            "raw", "-o", f"{stem}.txt", "--duration", str(int(window[1] - window[0])), "--nonblocking",
            "--threads",
        ]  # fmt: skip
        if args.py_spy_gil:  # only the thread holding the GIL: where the process's one core goes
            profiler_args.append("--gil")

    t0 = time.perf_counter()
    cpu0 = cpu_of(ps)
    rss_peak = 0
    marks: dict[str, tuple[float, float, float]] = {}  # (time, server cpu, worker cpu)
    ctx = multiprocessing.get_context("fork")
    with ctx.Pool(procs) as pool:
        pending = pool.map_async(client_process, jobs)
        while not pending.ready():
            rss_peak = max(rss_peak, ps.memory_info().rss)
            now = time.perf_counter() - t0
            for name, at in (("start", window[0]), ("end", window[1])):
                if name not in marks and now >= at:
                    marks[name] = (time.perf_counter(), cpu_of(ps), cpu_of(worker_ps) if worker_ps else 0.0)
                    if name == "start":
                        load0 = os.getloadavg()
                        if args.py_spy and kind != "echo":
                            profiler = subprocess.Popen(
                                profiler_args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
                            )
                    else:
                        load1 = os.getloadavg()
            pending.wait(0.25)
        parts = pending.get()
    (ta, cpu_a, wcpu_a), (tb, cpu_b, wcpu_b) = marks["start"], marks["end"]
    wall = tb - ta
    cpu, wcpu = cpu_b - cpu_a, wcpu_b - wcpu_a
    connect_cpu = cpu_a - cpu0
    if profiler is not None:
        profiler.wait(timeout=120)
    server.terminate()
    try:
        server.wait(timeout=20)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait(timeout=10)

    s = ClientStats()
    closed: Counter[str] = Counter()
    client_cpu = 0.0
    for part in parts:
        s.acks += part["acks"]
        s.audio_acks += part["audio_acks"]
        s.snapshot_acks += part["snapshot_acks"]
        s.connected += part["connected"]
        s.failures += part["failures"]
        closed.update(part["closed_early"])
        s.sent.update(part["sent"])
        s.shown.update(part["shown"])
        s.verdict.update(part["verdict"])
        s.proctor_messages += part["proctor_messages"]
        client_cpu += part["cpu_s"]

    def in_window(pairs: list[tuple[float, float]]) -> list[float]:
        return [ms for at, ms in pairs if ta <= at < tb]

    acks, audio_acks, snapshot_acks = in_window(s.acks), in_window(s.audio_acks), in_window(s.snapshot_acks)
    sent_in_window = {k: v for k, v in s.sent.items() if ta <= v < tb}
    to_proctor = [(s.shown[k] - sent) * 1000 for k, sent in sent_in_window.items() if k in s.shown]
    to_verdict = [(s.verdict[k] - sent) * 1000 for k, sent in sent_in_window.items() if k in s.verdict]
    return {
        "server": kind,
        "profile": args.profile if kind not in BARE_SERVERS else "-",
        "phones": args.phones,
        "connected": s.connected,
        "closed_early": sum(closed.values()),
        "closed_codes": dict(closed),
        "window_s": round(wall, 1),
        "acks_total": len(s.acks),
        "acks": len(acks),
        "acks_per_s": round(len(acks) / wall, 1),
        "ack_p50_ms": round(percentile(acks, 0.50), 1),
        "ack_p99_ms": round(percentile(acks, 0.99), 1),
        "audio_ack_p99_ms": round(percentile(audio_acks, 0.99), 1),
        "snapshot_ack_p50_ms": round(percentile(snapshot_acks, 0.50), 1),
        "snapshot_ack_p99_ms": round(percentile(snapshot_acks, 0.99), 1),
        "snapshots_sent": len(sent_in_window),
        "snapshots_shown": len(to_proctor),
        "snapshot_to_proctor_p50_ms": round(percentile(to_proctor, 0.50), 1),
        "snapshot_to_proctor_p95_ms": round(percentile(to_proctor, 0.95), 1),
        "snapshots_analysed": len(to_verdict),
        "snapshot_to_verdict_p50_ms": round(percentile(to_verdict, 0.50), 1),
        "snapshot_to_verdict_p95_ms": round(percentile(to_verdict, 0.95), 1),
        "proctor_messages": s.proctor_messages,
        "server_cpu_pct": round(100 * cpu / wall, 1),
        "server_cpu_ms_per_ack": round(1000 * cpu / max(1, len(acks)), 3),
        "connect_cpu_s": round(connect_cpu, 1),
        "worker_cpu_pct": round(100 * wcpu / wall, 1),
        "client_cpu_pct": round(100 * client_cpu / wall, 1),
        "rss_per_connection_kb": round((rss_peak - rss_idle) / 1024 / max(1, s.connected), 1),
        "rss_peak_mb": round(rss_peak / 2**20, 1),
        "load_avg_before_after": [round(load0[0], 2), round(load1[0], 2)],
    }


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--phones", type=int, default=500)
    parser.add_argument("--proctors", type=int, default=3)
    parser.add_argument("--room-size", type=int, default=30, help="candidates per exam session")
    parser.add_argument("--duration", type=float, default=30.0)
    parser.add_argument("--servers", default="daphne,uvicorn,echo")
    parser.add_argument("--profile", choices=["embedded", "production"], default="embedded")
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL", ""))
    parser.add_argument("--client-procs", type=int, default=1)
    parser.add_argument(
        "--snapshot-every", type=int, default=10, help="seconds between a phone's frames (0: none)"
    )
    parser.add_argument(
        "--worker-concurrency",
        type=int,
        default=1,
        help="Celery worker processes analysing frames (production; 0: none, the frames queue in Redis "
        "and the server alone is measured, as with workers on other hosts)",
    )
    parser.add_argument("--py-spy", default="", help="directory for py-spy profiles of the server")
    parser.add_argument(
        "--py-spy-gil", action="store_true", help="sample only the GIL holder (CPU, not waiting)"
    )
    parser.add_argument("--json-out", default="", help="append the results (JSON lines) here")
    args = parser.parse_args()
    # Checked before any server starts (a late exit left the server running).
    shortest = math.ceil(connect_ramp(args.phones) + 18.0)  # ramp, 8 s slack, a 10 s window
    if args.duration < shortest:
        parser.error(f"--duration must be at least {shortest} s for {args.phones} phones")
    if args.worker_concurrency < 0:
        parser.error("--worker-concurrency must be ≥ 0")
    args.work = tempfile.mkdtemp(prefix="bench-")

    servers = args.servers.split(",")
    profile = Profile(args, Path(args.work)) if any(k not in BARE_SERVERS for k in servers) else None
    try:
        results = [run_one(kind, args, profile) for kind in servers]
    finally:
        if profile is not None:
            profile.close()
    echo = next((r for r in results if r["server"] == "echo"), None)
    print(
        f"\n{os.cpu_count()} cores shared by client and server; {args.phones} phones in rooms of "
        f"{args.room_size}, {args.proctors} proctors, {args.duration:.0f} s, profile {args.profile}"
    )
    cols = [
        "server", "profile", "connected", "closed_early", "acks_per_s", "ack_p50_ms", "ack_p99_ms",
        "snapshot_ack_p99_ms", "snapshot_to_proctor_p50_ms", "snapshot_to_proctor_p95_ms",
        "snapshot_to_verdict_p50_ms", "snapshot_to_verdict_p95_ms",
        "server_cpu_pct", "server_cpu_ms_per_ack", "rss_per_connection_kb", "client_cpu_pct",
        "worker_cpu_pct", "load_avg_before_after",
    ]  # fmt: skip
    print("| " + " | ".join(cols) + " | throughput ratio | ceiling ratio (CPU) |")
    print("|" + "---|" * (len(cols) + 2))
    for r in results:
        # Capacity ∝ 1 / CPU per ack: the share of the echo server's capacity this server reaches.
        ratio = (
            echo["server_cpu_ms_per_ack"] / r["server_cpu_ms_per_ack"]
            if echo and r["server_cpu_ms_per_ack"]
            else 0
        )
        tput = r["acks_per_s"] / echo["acks_per_s"] if echo and echo["acks_per_s"] else 0
        r["throughput_ratio"], r["ceiling_ratio"] = round(tput, 3), round(ratio, 3)
        print("| " + " | ".join(str(r[c]) for c in cols) + f" | {tput:.2f} | {ratio:.3f} |")
    print(json.dumps(results, indent=1))
    if args.json_out:
        with open(args.json_out, "a") as fh:
            for r in results:
                fh.write(json.dumps(r) + "\n")
    shutil.rmtree(Path(args.work) / "data", ignore_errors=True)  # logs stay for reading
    print(f"logs: {args.work}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
