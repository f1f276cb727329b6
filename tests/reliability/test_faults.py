"""Fault injection against real processes (production profile): Redis restarted mid-stream, S3 down,
the ASGI server restarted. Each test streams numbered snapshots and audio batches from a phone that
behaves like the real client (keeps every frame until acked, reconnects with a fresh ticket, resumes
from ``hello_ok.resume_from``) and ends by counting: every seq stored exactly once, every stored
object present, nothing lost, nothing duplicated.

A Celery worker SIGKILLed mid-analysis is covered in tests/media_pipeline/test_worker.py
(``test_a_worker_killed_mid_analysis_loses_nothing_and_repeats_nothing``).
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from websockets.exceptions import ConnectionClosed

from media_pipeline.models import AudioBatch, FrameAnalysis, Snapshot
from monitor import protocol as p
from tests import services
from tests.monitor import factories as f
from tests.monitor.conftest import start_server
from tests.monitor.test_realtime import jpeg
from tests.monitor.wsclient import WS
from tests.reliability.conftest import CallerApi, evidence_objects

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.production_only]


class ResumingPhone:
    """The reference behaviour of docs/protocol.md §3: unacked frames are resent after a reconnect."""

    def __init__(self, api: CallerApi, sitting: f.Sitting) -> None:
        self.api, self.sitting = api, sitting
        self.frames: dict[int, bytes] = {}
        self.audio: set[int] = set()
        self.acked: list[int] = []
        self.audio_acked: list[int] = []
        self.reconnects = 0
        self.ws: WS | None = None
        self.ws_url = api.pair(sitting)["ws_url"]
        # Storage is content-addressed and the bucket outlives a test: images unique to this run.
        self.salt = 1_000 + secrets.randbelow(10**9)

    def connect(self, deadline_s: float = 30.0) -> None:
        """(Re)connect until the server answers hello_ok, then resend what was never acked."""
        deadline = time.monotonic() + deadline_s
        while True:
            try:
                url = (
                    self.ws_url
                    or self.api.post("/api/v1/ws-tickets", self.sitting.phone_token, {"role": "phone"})["url"]
                )
                self.ws_url = ""
                ws = WS(url)
                ws.send({"type": "hello", "version": 1, "device": {"platform": "android"}})
                hello = ws.until("hello_ok")
                break
            except Exception:  # noqa: BLE001 - server or Redis still coming back: retry until the deadline
                assert time.monotonic() < deadline, "phone could not reconnect"
                time.sleep(0.3)
        self.ws = ws
        # resume_from acknowledges every frame up to it, also one stored just before the connection
        # died whose own ack was lost with it (docs/protocol.md, resume rules).
        for seq in [s for s in self.frames if s <= hello["resume_from"]]:
            del self.frames[seq]
            self.acked.append(seq)
        self.audio_acked.extend(s for s in self.audio if s <= hello["audio_resume_from"])
        self.audio = {s for s in self.audio if s > hello["audio_resume_from"]}
        for seq in sorted(self.frames):
            ws.send(p.build_snapshot_frame(seq=seq, data=self.frames[seq]))
        for seq in sorted(self.audio):
            ws.send(_audio(seq))

    def send(self, seq: int) -> None:
        self.frames[seq] = jpeg(self.salt + seq)
        self.audio.add(seq)
        assert self.ws is not None
        try:
            self.ws.send(p.build_snapshot_frame(seq=seq, data=self.frames[seq]))
            self.ws.send(_audio(seq))
        except ConnectionClosed:
            pass  # kept in self.frames / self.audio: resent after the reconnect

    def pump(self, timeout: float = 0.5) -> bool:
        """Read what arrived; False when the socket is gone (the caller reconnects)."""
        assert self.ws is not None
        try:
            while True:
                msg = self.ws.recv(timeout=timeout)
                if msg["type"] == "ack":
                    self.frames.pop(msg["seq"], None)
                    self.acked.append(msg["seq"])
                elif msg["type"] == "audio_ack":
                    self.audio.discard(msg["seq"])
                    self.audio_acked.append(msg["seq"])
                elif msg["type"] == "error":
                    raise AssertionError(f"unexpected refusal {msg}")
        except TimeoutError:
            return True
        except (ConnectionClosed, OSError, EOFError):
            return False

    def drain(self, deadline_s: float = 30.0) -> None:
        deadline = time.monotonic() + deadline_s
        while self.frames or self.audio:
            assert time.monotonic() < deadline, f"unacked after {deadline_s}s: {sorted(self.frames)}"
            if not self.pump():
                self.reconnects += 1
                self.connect()

    def close(self) -> None:
        if self.ws is not None:
            self.ws.close()


def _audio(seq: int) -> dict[str, Any]:
    return {"type": "audio", "seq": seq, "interval_ms": 100, "levels": [-40.0 - seq % 10] * 10}


def stream_through(phone: ResumingPhone, total: int, fault_at: int, fault: Callable[[], None]) -> None:
    phone.connect()
    for seq in range(1, total + 1):
        phone.send(seq)
        if seq == fault_at:
            fault()
        if not phone.pump(timeout=0.05):
            phone.reconnects += 1
            phone.connect()
    phone.drain()


def assert_nothing_lost_or_duplicated(phone: ResumingPhone, total: int) -> None:
    seqs = list(Snapshot.objects.order_by("seq").values_list("seq", flat=True))
    audio = list(AudioBatch.objects.order_by("seq").values_list("seq", flat=True))
    assert seqs == list(range(1, total + 1))  # each frame stored exactly once
    assert audio == list(range(1, total + 1))
    assert set(phone.acked) == set(range(1, total + 1))  # and each acked (re-acks of resent frames allowed)
    assert set(phone.audio_acked) == set(range(1, total + 1))
    keys = set(Snapshot.objects.values_list("storage_key", flat=True))
    assert len(keys) == total  # distinct images, content-addressed
    stored = evidence_objects()
    assert all(any(obj.endswith(key) for obj in stored) for key in keys)


@pytest.fixture
def api_for() -> Callable[[services.Process], CallerApi]:
    return CallerApi


def test_asgi_server_restarted_while_phones_stream(
    server_env: dict[str, str], tmp_path: Path, api_for: Callable[[services.Process], CallerApi]
) -> None:
    s = f.sitting(f.running_session(), 1)
    server = start_server(server_env, tmp_path / "first")
    api = api_for(server)
    phone = ResumingPhone(api, s)
    holder = {"server": server}

    def restart() -> None:
        port = holder["server"].port
        holder["server"].kill()  # SIGKILL: no graceful close, in-flight frames are cut
        holder["server"] = services_start_on(server_env, tmp_path / "second", port)

    try:
        stream_through(phone, total=24, fault_at=12, fault=restart)
        assert phone.reconnects >= 1
        assert_nothing_lost_or_duplicated(phone, 24)
        print(
            f"asgi restart: 24 frames + 24 audio batches, {phone.reconnects} reconnect(s), "
            f"acks {len(phone.acked)}"
        )
    finally:
        phone.close()
        holder["server"].stop()


def services_start_on(env: dict[str, str], log_dir: Path, port: int) -> services.Process:
    """start_server on a given port (the restarted server takes over its predecessor's address)."""
    return services.start_daphne(env, log_dir=log_dir, port=port)


def test_redis_restarted_mid_stream(
    server_env: dict[str, str], tmp_path: Path, api_for: Callable[[services.Process], CallerApi]
) -> None:
    """A dedicated Redis (channel layer, cache) for this server, restarted on the same port."""
    redis = services.start_redis(log_dir=tmp_path)
    env = {**server_env, "REDIS_URL": redis.extra["url"]}
    server = start_server(env, tmp_path)
    api = api_for(server)
    s = f.sitting(f.running_session(), 1)
    phone = ResumingPhone(api, s)
    holder = {"redis": redis}

    def restart() -> None:
        port = holder["redis"].port
        holder["redis"].kill()
        time.sleep(1.0)  # a real outage, not a blip
        holder["redis"] = services.start_redis(port=port, log_dir=tmp_path / "again")

    try:
        stream_through(phone, total=24, fault_at=12, fault=restart)
        assert_nothing_lost_or_duplicated(phone, 24)
        print(f"redis restart: 24 frames + 24 audio batches, {phone.reconnects} reconnect(s)")
    finally:
        phone.close()
        server.stop()
        holder["redis"].stop()


def test_s3_unavailable_frames_are_spooled_acked_and_uploaded_later(
    server_env: dict[str, str], tmp_path: Path, api_for: Callable[[services.Process], CallerApi]
) -> None:
    """While S3 is unreachable every frame is still acked: durable in the local spool first. A worker
    that can reach S3 uploads them later; the spool empties and the bucket holds each one once."""
    dead = f"http://127.0.0.1:{services.free_port()}"  # nothing listens here: connection refused
    server = start_server({**server_env, "S3_ENDPOINT_URL": dead}, tmp_path)
    api = api_for(server)
    s = f.sitting(f.running_session(), 1)
    phone = ResumingPhone(api, s)
    try:
        stream_through(phone, total=10, fault_at=0, fault=lambda: None)
        assert Snapshot.objects.count() == 10
        assert Snapshot.objects.filter(uploaded=False).count() == 10  # all acked while S3 was down
        spooled = {o for o in evidence_objects() if o.startswith("spool:")}
        keys = set(Snapshot.objects.values_list("storage_key", flat=True))
        assert {k for k in keys if f"spool:{k}" in spooled} == keys
        outage_bucket = {o for o in evidence_objects() if not o.startswith("spool:")}
        assert not any(o.endswith(k) for o in outage_bucket for k in keys)

        worker = services.start_celery_worker(server_env, log_dir=tmp_path)  # S3 is back (for it)
        try:
            deadline = time.monotonic() + 60
            while Snapshot.objects.filter(uploaded=False).exists() or FrameAnalysis.objects.count() < 10:
                assert time.monotonic() < deadline, worker.log_tail()
                time.sleep(0.3)
        finally:
            worker.stop()
        after = evidence_objects()
        assert not any(o.startswith("spool:") and o[6:] in keys for o in after)  # spool emptied
        assert_nothing_lost_or_duplicated(phone, 10)
        assert FrameAnalysis.objects.count() == 10  # analysed once each
        print("s3 outage: 10 frames acked into the spool, 10 uploaded later, 10 analyses")
    finally:
        phone.close()
        server.stop()
