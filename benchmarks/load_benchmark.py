"""Load benchmark: N phones and M proctors against one ASGI server process, and the same load against a
bare ``websockets`` echo server (the Python ceiling). Not a test: it prints a table and JSON.

    .venv/bin/python benchmarks/load_benchmark.py --phones 500 --proctors 5 --duration 40 \
        --servers daphne,uvicorn,echo

Each phone sends one audio batch per second, a 40 KB JPEG every 10 s and a heartbeat every 5 s
(docs/protocol.md), and measures the ack latency of each. Proctors subscribe to the session and
timestamp each ``snapshot`` delta: snapshot sent → proctor screen, including storage and analysis.
Fast path: devices, attempts and single-use WebSocket tickets are created directly in the database
in bulk (no WeChat login per phone). Profile: embedded settings (in-memory channel layer, in-process
analysis thread pool, local files) on PostgreSQL (``--database-url``), or SQLite when none is given.
Server CPU and RSS come from psutil on the server process. Client and server share the machine.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import io
import json
import os
import secrets
import struct
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
VENV_BIN = Path(sys.executable).parent
ECHO_SERVER = """
import asyncio, json, struct, sys
from websockets.asyncio.server import serve
async def handle(ws):
    async for message in ws:
        if isinstance(message, bytes):
            (n,) = struct.unpack("!I", message[:4]); header = json.loads(message[4:4 + n])
            ack = {"type": "ack", "seq": header["seq"], "snapshot_id": 0, "duplicate": False}
            await ws.send(json.dumps(ack))
            continue
        msg = json.loads(message)
        if msg["type"] == "hello":
            await ws.send(json.dumps({"type": "hello_ok", "resume_from": 0, "audio_resume_from": 0}))
        elif msg["type"] == "audio":
            await ws.send(json.dumps({"type": "audio_ack", "seq": msg["seq"]}))
        elif msg["type"] == "heartbeat":
            await ws.send(json.dumps({"type": "heartbeat_ack", "server_time": ""}))
async def main():
    async with serve(handle, "127.0.0.1", int(sys.argv[1]), max_size=2**21, compression=None):
        await asyncio.Future()
asyncio.run(main())
"""


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def jpeg_40kb(i: int) -> bytes:
    """A 640×480 JPEG of about 40 KB with some texture (a phone photo of a desk, roughly)."""
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(i)
    base = np.linspace(40, 200, 640 * 480 * 3).reshape(480, 640, 3)
    noise = rng.normal(0, 18, (480, 640, 3))
    image = Image.fromarray(np.clip(base + noise, 0, 255).astype("uint8"))
    buf = io.BytesIO()
    image.save(buf, "JPEG", quality=35)
    return buf.getvalue()


# --- fast-path setup in the database --------------------------------------------------------------


def setup_database(phones: int, proctors: int) -> tuple[list[str], list[str], int]:
    """Bulk-create a running session, N attempts with paired devices and phone tickets, M proctors."""
    import django

    django.setup()
    from datetime import timedelta

    from django.core.management import call_command
    from django.utils import timezone

    from accounts.models import Candidate, Role, User
    from accounts.roles import role_assign
    from exams.models import Attempt, ExamSession, Subject
    from monitor import services as monitor_services
    from monitor.models import PhoneDevice, WsTicket

    call_command("migrate", verbosity=0)
    now = timezone.now()
    subject, _ = Subject.objects.get_or_create(code="bench", defaults={"name": "压测", "name_en": "bench"})
    session = ExamSession.objects.create(
        subject=subject,
        level="junior",
        starts_at=now - timedelta(minutes=5),
        ends_at=now + timedelta(hours=3),
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
        Attempt(candidate=c, session=session, status="in_progress", started_at=now) for c in candidates
    )
    devices = PhoneDevice.objects.bulk_create(
        PhoneDevice(attempt=a, kind=PhoneDevice.Kind.MINIPROGRAM, last_seen_at=now) for a in attempts
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
        session.proctors.add(user)
        proctor_tickets.append(monitor_services.ws_ticket_issue(role="proctor", user=user).raw)
    return raws, proctor_tickets, session.pk


# --- the load -------------------------------------------------------------------------------------


@dataclass
class Stats:
    acks: list[float] = field(default_factory=list)  # ms, all kinds
    snapshot_acks: list[float] = field(default_factory=list)
    to_proctor: list[float] = field(default_factory=list)
    connected: int = 0
    failures: int = 0
    sent: dict[tuple[int, int], float] = field(default_factory=dict)  # (attempt_id, seq) → sent at


async def phone(url: str, image: bytes, duration: float, stats: Stats, stagger: float) -> None:
    from websockets.asyncio.client import connect

    await asyncio.sleep(stagger)
    try:
        async with connect(url, max_size=2**22, compression=None, open_timeout=60, ping_interval=None) as ws:
            await ws.send(json.dumps({"type": "hello", "version": 1, "device": {"platform": "bench"}}))
            hello = json.loads(await ws.recv())
            while hello.get("type") != "hello_ok":
                hello = json.loads(await ws.recv())
            attempt_id = int(hello.get("attempt_id", 0))
            stats.connected += 1
            pending: dict[tuple[str, int], float] = {}

            async def reader() -> None:
                async for raw in ws:
                    msg = json.loads(raw)
                    kind = msg.get("type")
                    key = {"ack": "s", "audio_ack": "a", "heartbeat_ack": "h"}.get(kind)
                    if key is None:
                        continue
                    seq = msg.get("seq", 0) if key != "h" else 0
                    sent = pending.pop((key, seq), None)
                    if sent is not None:
                        ms = (time.perf_counter() - sent) * 1000
                        stats.acks.append(ms)
                        if key == "s":
                            stats.snapshot_acks.append(ms)

            task = asyncio.create_task(reader())
            start = time.perf_counter()
            tick = 0
            offset = secrets.randbelow(10)
            while time.perf_counter() - start < duration:
                tick += 1
                levels = [-45.0 - (tick % 7)] * 10
                pending[("a", tick)] = time.perf_counter()
                await ws.send(
                    json.dumps({"type": "audio", "seq": tick, "interval_ms": 100, "levels": levels})
                )
                if tick % 5 == 0:
                    pending[("h", 0)] = time.perf_counter()
                    await ws.send(json.dumps({"type": "heartbeat"}))
                if (tick + offset) % 10 == 0:
                    seq = (tick + offset) // 10
                    header = json.dumps({"type": "snapshot", "seq": seq}).encode()
                    now = time.perf_counter()
                    pending[("s", seq)] = now
                    stats.sent[(attempt_id, seq)] = now
                    await ws.send(struct.pack("!I", len(header)) + header + image)
                await asyncio.sleep(1.0)
            await asyncio.sleep(2.0)  # late acks
            task.cancel()
    except Exception:  # noqa: BLE001 - counted, reported
        stats.failures += 1


async def proctor(url: str, session_id: int, duration: float, stats: Stats) -> None:
    from websockets.asyncio.client import connect
    from websockets.typing import Origin

    try:
        async with connect(
            url,
            max_size=2**24,
            compression=None,
            open_timeout=60,
            ping_interval=None,
            origin=Origin("http://127.0.0.1"),
        ) as ws:
            await ws.send(json.dumps({"type": "hello", "version": 1}))
            await ws.send(json.dumps({"type": "subscribe", "session_id": session_id}))
            end = time.perf_counter() + duration + 5
            beat = time.perf_counter()
            while time.perf_counter() < end:
                if time.perf_counter() - beat > 4:  # the server closes silent sockets (4006)
                    beat = time.perf_counter()
                    await ws.send(json.dumps({"type": "heartbeat"}))
                try:
                    raw = await asyncio.wait_for(ws.recv(), timeout=2)
                except TimeoutError:
                    continue
                msg = json.loads(raw)
                if msg.get("type") == "snapshot":
                    sent = stats.sent.get((msg["attempt_id"], msg["seq"]))
                    if sent is not None:
                        stats.to_proctor.append((time.perf_counter() - sent) * 1000)
    except Exception:  # noqa: BLE001
        stats.failures += 1


def start_server(kind: str, port: int, env: dict[str, str]) -> subprocess.Popen[bytes]:
    size = str(1024 * 1024 + 1024 + 4 + 64 * 1024)
    if kind == "daphne":
        args = [
            str(VENV_BIN / "daphne"),
            "-v",
            "0",
            "-b",
            "127.0.0.1",
            "-p",
            str(port),
            "--websocket-max-message-size",
            size,
            "--websocket-max-frame-size",
            size,
            "config.asgi:application",
        ]
    elif kind == "uvicorn":
        args = [
            str(VENV_BIN / "uvicorn"),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--log-level",
            "warning",
            "--no-access-log",
            "--ws-max-size",
            size,
            "--ws-per-message-deflate",
            "false",
            "config.asgi:application",
        ]
    else:
        args = [sys.executable, "-c", ECHO_SERVER, str(port)]
    proc = subprocess.Popen(args, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    import socket

    for _ in range(300):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return proc
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"{kind} did not start")


def run_one(kind: str, args: argparse.Namespace, env: dict[str, str]) -> dict[str, Any]:
    import psutil

    phone_tickets, proctor_tickets, session_id = (
        setup_database(args.phones, args.proctors) if kind != "echo" else ([""] * args.phones, [], 0)
    )
    port = 20000 + secrets.randbelow(20000)
    server = start_server(kind, port, env)
    ps = psutil.Process(server.pid)
    time.sleep(1.0)
    rss_idle = ps.memory_info().rss
    images = [jpeg_40kb(i) for i in range(8)]
    stats = Stats()

    async def drive() -> None:
        ws_base = f"ws://127.0.0.1:{port}"
        tasks = [
            proctor(f"{ws_base}/ws/proctor/?ticket={t}", session_id, args.duration, stats)
            for t in proctor_tickets
        ]
        ramp = min(20.0, args.phones / 100)
        tasks += [
            phone(
                f"{ws_base}/ws/phone/?ticket={t}",
                images[i % len(images)],
                args.duration,
                stats,
                ramp * i / max(1, args.phones),
            )
            for i, t in enumerate(phone_tickets)
        ]
        await asyncio.gather(*tasks)

    cpu0 = sum(ps.cpu_times()[:2])
    t0 = time.perf_counter()
    rss_peak = 0
    loop = asyncio.new_event_loop()

    async def watch() -> None:
        nonlocal rss_peak
        while True:
            rss_peak = max(rss_peak, ps.memory_info().rss)
            await asyncio.sleep(1)

    async def main() -> None:
        watcher = asyncio.create_task(watch())
        await drive()
        watcher.cancel()

    loop.run_until_complete(main())
    wall = time.perf_counter() - t0
    cpu = sum(ps.cpu_times()[:2]) - cpu0
    server.terminate()
    try:
        server.wait(timeout=20)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait(timeout=10)
    return {
        "server": kind,
        "phones": args.phones,
        "connected": stats.connected,
        "failures": stats.failures,
        "acks": len(stats.acks),
        "acks_per_s": round(len(stats.acks) / wall, 1),
        "ack_p50_ms": round(percentile(stats.acks, 0.50), 1),
        "ack_p99_ms": round(percentile(stats.acks, 0.99), 1),
        "snapshot_ack_p99_ms": round(percentile(stats.snapshot_acks, 0.99), 1),
        "snapshot_to_proctor_p50_ms": round(percentile(stats.to_proctor, 0.50), 1),
        "snapshot_to_proctor_p95_ms": round(percentile(stats.to_proctor, 0.95), 1),
        "proctor_deliveries": len(stats.to_proctor),
        "server_cpu_pct": round(100 * cpu / wall, 1),
        "server_cpu_ms_per_ack": round(1000 * cpu / max(1, len(stats.acks)), 3),
        "rss_per_connection_kb": round((rss_peak - rss_idle) / 1024 / max(1, stats.connected), 1),
        "rss_peak_mb": round(rss_peak / 2**20, 1),
    }


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--phones", type=int, default=500)
    parser.add_argument("--proctors", type=int, default=5)
    parser.add_argument("--duration", type=float, default=40.0)
    parser.add_argument("--servers", default="daphne,uvicorn,echo")
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL", ""))
    args = parser.parse_args()

    data_dir = tempfile.mkdtemp(prefix="bench-data-")
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.embedded",
        "MONITOR_DATA_DIR": data_dir,
        "DATABASE_URL": args.database_url or f"sqlite:///{data_dir}/bench.sqlite3",
        "DJANGO_DEBUG": "0",
        "WS_MESSAGES_PER_SECOND": "10",
    }
    os.environ.update({k: env[k] for k in ("DJANGO_SETTINGS_MODULE", "MONITOR_DATA_DIR", "DATABASE_URL")})
    results = [run_one(kind, args, env) for kind in args.servers.split(",")]
    echo = next((r for r in results if r["server"] == "echo"), None)
    print(
        f"\n{os.cpu_count()} cores; client and server on the same machine; {args.phones} phones, "
        f"{args.proctors} proctors, {args.duration:.0f} s"
    )
    cols = [
        "server",
        "connected",
        "failures",
        "acks_per_s",
        "ack_p50_ms",
        "ack_p99_ms",
        "snapshot_ack_p99_ms",
        "snapshot_to_proctor_p95_ms",
        "server_cpu_pct",
        "server_cpu_ms_per_ack",
        "rss_per_connection_kb",
    ]
    print("| " + " | ".join(cols) + " | ceiling ratio |")
    print("|" + "---|" * (len(cols) + 1))
    for r in results:
        # Capacity ∝ 1 / CPU per ack: the share of the echo server's capacity this server reaches.
        ratio = (
            echo["server_cpu_ms_per_ack"] / r["server_cpu_ms_per_ack"]
            if echo and r["server_cpu_ms_per_ack"]
            else 0
        )
        print("| " + " | ".join(str(r[c]) for c in cols) + f" | {ratio:.2f} |")
    print(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
