"""Real WebSocket clients against a real daphne server (in-memory layer; Redis in the production pass)."""

from __future__ import annotations

import io
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from PIL import Image, ImageDraw
from websockets.exceptions import InvalidStatus

from exams.models import AttemptEvent
from media_pipeline.models import Snapshot
from monitor import protocol as p
from monitor import services as monitor_services
from monitor.models import PhoneDevice
from tests import services
from tests.monitor import factories as f
from tests.monitor.conftest import start_server
from tests.monitor.wsclient import WS

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.integration]

HEARTBEAT_TIMEOUT = 2.0


@pytest.fixture
def server(server_env: dict[str, str], tmp_path: Path) -> Iterator[services.Process]:
    """daphne with a 2-second heartbeat timeout (the product default is 15 s)."""
    proc = start_server({**server_env, "HEARTBEAT_TIMEOUT_SECONDS": str(HEARTBEAT_TIMEOUT)}, tmp_path)
    yield proc
    proc.stop()


def jpeg(i: int) -> bytes:
    image = Image.new("RGB", (640, 480), (40 + i * 10 % 200, 90, 140))
    draw = ImageDraw.Draw(image)
    draw.ellipse((250, 80, 390, 240), fill=(220, 180, 150))
    draw.rectangle((200, 240, 440, 480), fill=(30, 30, 90))
    draw.text((10, 10), f"frame {i}", fill=(255, 255, 255))
    buf = io.BytesIO()
    image.save(buf, "JPEG", quality=85)
    return buf.getvalue()


class Api:
    def __init__(self, server: services.Process) -> None:
        self.base = server.extra["url"]
        self.ws_base = self.base.replace("http://", "ws://")

    def post(self, path: str, token: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        r = requests.post(
            self.base + path, json=body or {}, headers={"Authorization": f"Bearer {token}"}, timeout=10
        )
        assert r.status_code in (200, 201), r.text
        result: dict[str, Any] = r.json()
        return result

    def desktop(self, s: f.Sitting) -> WS:
        ticket = self.post("/api/v1/ws-tickets", s.desktop_token, {"role": "desktop"})["ticket"]
        ws = WS(f"{self.ws_base}/ws/desktop/?ticket={ticket}", origin=self.base)
        ws.send({"type": "hello", "version": 1})
        assert ws.until("hello_ok")["attempt_id"] == s.attempt.pk
        return ws

    def pair(self, s: f.Sitting) -> dict[str, Any]:
        pairing = self.post("/api/v1/pairing/tokens", s.desktop_token)
        return self.post("/api/v1/pairing/claim", s.phone_token, {"token": pairing["url"].split("?t=")[1]})

    def phone(
        self, s: f.Sitting, url: str | None = None, *, silent: bool = False
    ) -> tuple[WS, dict[str, Any]]:
        if url is None:
            url = self.post("/api/v1/ws-tickets", s.phone_token, {"role": "phone"})["url"]
        ws = WS(url, keepalive=None if silent else 0.5)
        ws.send({"type": "hello", "version": 1, "device": {"platform": "android", "model": "test"}})
        return ws, ws.until("hello_ok")

    def proctor(self, user: Any, session_id: int) -> WS:
        ticket = monitor_services.ws_ticket_issue(role="proctor", user=user).raw
        ws = WS(f"{self.ws_base}/ws/proctor/?ticket={ticket}", origin=self.base)
        ws.send({"type": "hello", "version": 1})
        ws.until("hello_ok")
        ws.send({"type": "subscribe", "session_id": session_id})
        return ws


def wait_for(condition: Any, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.05)


def snapshot(ws: WS, seq: int) -> dict[str, Any]:
    ws.send(p.build_snapshot_frame(seq=seq, data=jpeg(seq)))
    return ws.until("ack", seq=seq)


def test_pairing_happy_path_tells_the_desktop_at_once(server: services.Process) -> None:
    s = f.sitting(f.running_session(), 1)
    api = Api(server)
    desktop = api.desktop(s)
    assert desktop.until("pairing")["state"] == "unpaired"
    assert desktop.until("monitoring")["on"] is False
    assert desktop.until("status")["state"]["status"] == "in_progress"

    claim = api.pair(s)
    paired = desktop.until("pairing", state="paired")
    assert paired["device_id"] == claim["device_id"]

    phone, hello = api.phone(s, claim["ws_url"])
    assert hello["resume_from"] == 0 and hello["device_id"] == claim["device_id"]
    assert hello["heartbeat_timeout_s"] == HEARTBEAT_TIMEOUT and hello["max_image_bytes"] == 1_048_576
    assert desktop.until("pairing", state="online")["device_id"] == claim["device_id"]
    assert desktop.until("monitoring")["on"] is True
    ack = snapshot(phone, 1)
    assert ack["duplicate"] is False
    assert list(Snapshot.objects.values_list("device_id", "seq")) == [(claim["device_id"], 1)]
    phone.send({"type": "heartbeat", "battery": 80})
    assert "server_time" in phone.until("heartbeat_ack")
    phone.send({"type": "audio", "seq": 1, "interval_ms": 100, "levels": [-45.0, -44.5, -50.0]})
    assert phone.until("audio_ack")["seq"] == 1
    phone.close()
    desktop.close()


def test_proctors_see_a_stored_frame_once_and_at_once(server: services.Process) -> None:
    session = f.running_session()
    s = f.sitting(session, 1)
    api = Api(server)
    proctor = api.proctor(f.proctor(session), session.pk)
    proctor.until("session_state")
    phone, _ = api.phone(s, api.pair(s)["ws_url"])

    ack = snapshot(phone, 1)
    delta = proctor.until("snapshot", snapshot_id=ack["snapshot_id"])
    stored = Snapshot.objects.get(pk=ack["snapshot_id"])
    assert (delta["attempt_id"], delta["session_id"], delta["seq"]) == (s.attempt.pk, session.pk, 1)
    assert delta["received_at"] == stored.received_at.isoformat()
    assert delta["thumbnail_url"].endswith(f"/{stored.pk}/thumbnail")
    # A resent frame is acked as a duplicate and not shown again; the next one is.
    assert snapshot(phone, 1)["duplicate"] is True
    second = snapshot(phone, 2)
    assert proctor.until("snapshot")["snapshot_id"] == second["snapshot_id"]
    phone.close()
    proctor.close()


def test_a_new_phone_closes_the_old_phone_socket_with_device_replaced(server: services.Process) -> None:
    session = f.running_session()
    s = f.sitting(session, 1)
    api = Api(server)
    proctor = api.proctor(f.proctor(session), session.pk)
    proctor.until("session_state")
    old_phone, _ = api.phone(s, api.pair(s)["ws_url"])
    second = api.pair(s)
    assert old_phone.closed_with() == p.CloseCode.DEVICE_REPLACED
    old, new = PhoneDevice.objects.order_by("pk")
    assert (old.revoke_reason, new.pk) == ("replaced", second["device_id"])
    alert = proctor.until("alert", kind="phone_replaced")
    assert alert["data"]["replaced"] == [old.pk] and alert["attempt_id"] == s.attempt.pk
    # The old phone cannot come back: its tickets are refused.
    new_phone, hello = api.phone(s, second["ws_url"])
    assert hello["device_id"] == new.pk
    new_phone.close()


def test_resume_after_a_dropped_connection_loses_and_duplicates_nothing(server: services.Process) -> None:
    s = f.sitting(f.running_session(), 1)
    api = Api(server)
    phone, hello = api.phone(s, api.pair(s)["ws_url"])
    for seq in (1, 2, 3):
        snapshot(phone, seq)
    # Frames 4 and 5 reach the server, but the phone loses Wi-Fi before reading their acks.
    phone.send(p.build_snapshot_frame(seq=4, data=jpeg(4)))
    phone.send(p.build_snapshot_frame(seq=5, data=jpeg(5)))
    wait_for(lambda: Snapshot.objects.filter(device__attempt=s.attempt).count() == 5)
    phone.drop()

    phone, hello = api.phone(s)  # a new ticket, a new socket
    assert hello["resume_from"] == 5
    # The phone resends what it has no ack for (4, 5) and goes on with 6: acked, stored once.
    assert snapshot(phone, 4)["duplicate"] is True
    assert snapshot(phone, 5)["duplicate"] is True
    assert snapshot(phone, 6)["duplicate"] is False
    seqs = list(
        Snapshot.objects.filter(device__attempt=s.attempt).order_by("seq").values_list("seq", flat=True)
    )
    assert seqs == [1, 2, 3, 4, 5, 6]
    assert PhoneDevice.objects.get().last_acked_seq == 6
    phone.close()


def test_heartbeat_loss_reaches_desktop_and_proctor_and_reconnect_restores(server: services.Process) -> None:
    session = f.running_session()
    s = f.sitting(session, 1)
    api = Api(server)
    claim = api.pair(s)
    desktop = api.desktop(s)
    proctor = api.proctor(f.proctor(session), session.pk)
    state = proctor.until("session_state")
    assert [a["attempt_id"] for a in state["attempts"]] == [s.attempt.pk]
    phone, _ = api.phone(s, claim["ws_url"], silent=True)
    desktop.until("pairing", state="online")

    # The phone goes silent (the mini-program was sent to the background): no heartbeats.
    assert phone.closed_with(timeout=HEARTBEAT_TIMEOUT + 5) == p.CloseCode.HEARTBEAT_TIMEOUT
    assert desktop.until("pairing", state="lost")["device_id"] == claim["device_id"]
    assert desktop.until("monitoring")["on"] is False
    alert = proctor.until("alert", kind="phone_lost")
    assert (alert["attempt_id"], alert["data"]["device_id"]) == (s.attempt.pk, claim["device_id"])
    assert proctor.until("attempt", attempt_id=s.attempt.pk)["state"]["status"] == "device_lost"
    s.attempt.refresh_from_db()
    assert s.attempt.status == "device_lost"
    assert PhoneDevice.objects.get().lost_at is not None
    assert list(AttemptEvent.objects.filter(attempt=s.attempt).values_list("kind", "actor")) == [
        ("phone_lost", "system")
    ]

    phone, _ = api.phone(s)
    assert desktop.until("pairing", state="online")["device_id"] == claim["device_id"]
    assert proctor.until("alert", kind="phone_restored")["attempt_id"] == s.attempt.pk
    s.attempt.refresh_from_db()
    assert s.attempt.status == "in_progress"
    assert PhoneDevice.objects.get().lost_at is None
    kinds = list(AttemptEvent.objects.filter(attempt=s.attempt).values_list("kind", flat=True))
    assert kinds == ["phone_lost", "phone_restored"]
    for ws in (phone, desktop, proctor):
        ws.close()


def test_a_phone_that_vanishes_is_marked_lost_by_the_sweep(server: services.Process) -> None:
    s = f.sitting(f.running_session(), 1)
    api = Api(server)
    desktop = api.desktop(s)
    phone, _ = api.phone(s, api.pair(s)["ws_url"])
    desktop.until("pairing", state="online")
    started = time.monotonic()
    phone.drop()
    assert desktop.until("pairing", state="lost", timeout=HEARTBEAT_TIMEOUT + 5)["state"] == "lost"
    assert time.monotonic() - started >= HEARTBEAT_TIMEOUT - 0.5  # not before the timeout
    assert list(AttemptEvent.objects.filter(attempt=s.attempt).values_list("kind", flat=True)) == [
        "phone_lost"
    ]
    desktop.close()


def test_bad_messages_get_codes_and_the_socket_survives(server: services.Process) -> None:
    s = f.sitting(f.running_session(), 1)
    api = Api(server)
    phone, _ = api.phone(s, api.pair(s)["ws_url"])
    phone.send({"type": "heartbeat", "mood": "happy"})
    assert phone.until("error")["code"] == "invalid"
    phone.send("{not json")  # heartbeats keep flowing meanwhile (they are valid)
    assert phone.until("error")["code"] == "malformed"
    phone.send({"type": "force_submit", "attempt_id": s.attempt.pk})
    assert phone.until("error")["code"] == "unknown_type"
    phone.send(p.build_snapshot_frame(seq=1, data=b"\xff" * (1_048_576 + 1)))
    assert phone.until("error") == {
        "type": "error",
        "code": "frame_too_large",
        "message": "images are limited to 1048576 bytes",
        "seq": 1,
    }
    phone.send(p.build_snapshot_frame(seq=2, data=b"this is not an image"))
    rejected = phone.until("error")
    assert rejected["seq"] == 2 and rejected["code"] != "frame_too_large"
    assert Snapshot.objects.count() == 0
    assert snapshot(phone, 3)["duplicate"] is False  # still open and working
    phone.send("x" * (p.MAX_TEXT_FRAME_BYTES + 10))
    assert phone.closed_with() == p.CloseCode.MESSAGE_TOO_LARGE


def test_tickets_origin_and_hello_are_enforced(server: services.Process) -> None:
    s = f.sitting(f.running_session(), 1)
    api = Api(server)
    claim = api.pair(s)
    phone, _ = api.phone(s, claim["ws_url"])
    phone.close()
    reused = WS(claim["ws_url"])
    assert reused.until("error")["code"] == "ticket_used"
    assert reused.closed_with() == p.CloseCode.AUTH_FAILED
    unknown = WS(f"{api.ws_base}/ws/phone/?ticket=nope")
    assert unknown.closed_with() == p.CloseCode.AUTH_FAILED

    ticket = api.post("/api/v1/ws-tickets", s.desktop_token, {"role": "desktop"})["ticket"]
    with pytest.raises(InvalidStatus) as info:
        WS(f"{api.ws_base}/ws/desktop/?ticket={ticket}", origin="https://evil.example")
    assert info.value.response.status_code == 403
    desktop = WS(f"{api.ws_base}/ws/desktop/?ticket={ticket}", origin=api.base)
    desktop.send({"type": "focus", "state": "lost"})
    assert desktop.until("error")["code"] == "hello_required"
    assert desktop.closed_with() == p.CloseCode.HELLO_REQUIRED

    old = api.phone(s)[0]
    newer = api.phone(s)[0]
    assert old.closed_with() == p.CloseCode.SUPERSEDED  # one socket per phone
    newer.close()


def test_desktop_focus_and_proctor_warning_round_trip(server: services.Process) -> None:
    session = f.running_session()
    s = f.sitting(session, 1)
    other = f.sitting(session, 2)
    api = Api(server)
    user = f.proctor(session)
    phone, _ = api.phone(s, api.pair(s)["ws_url"])
    desktop = api.desktop(s)
    proctor = api.proctor(user, session.pk)
    proctor.until("session_state")

    desktop.send({"type": "focus", "state": "lost"})
    delta = proctor.until("attempt", attempt_id=s.attempt.pk)
    assert [e["kind"] for e in delta["events"]] == ["focus_lost"]
    desktop.send({"type": "focus", "state": "regained"})
    proctor.until("attempt", attempt_id=s.attempt.pk)

    proctor.send({"type": "warn", "attempt_id": s.attempt.pk, "category": "appearance", "request_id": "r1"})
    assert proctor.until("command_result", request_id="r1")["ok"] is True
    warning = desktop.until("warning")
    assert (warning["category"], warning["count"]) == ("appearance", 1)
    assert phone.until("command")["command"] == "warning"
    desktop.send({"type": "warning_ack", "warning_id": warning["warning_id"]})
    wait_for(lambda: AttemptEvent.objects.filter(attempt=s.attempt, kind="warning_ack").exists())

    proctor.send({"type": "message", "attempt_id": s.attempt.pk, "text": "请摘下耳机", "request_id": "r2"})
    assert proctor.until("command_result", request_id="r2")["ok"] is True
    assert desktop.until("message")["text"] == {"zh": "请摘下耳机", "en": "请摘下耳机"}

    # A proctor not assigned to the other session cannot act on it or subscribe to it.
    elsewhere = f.sitting(f.running_session(), 3)
    proctor.send({"type": "force_submit", "attempt_id": elsewhere.attempt.pk, "request_id": "r3"})
    assert proctor.until("command_result", request_id="r3") == {
        "type": "command_result",
        "request_id": "r3",
        "ok": False,
        "code": "forbidden",
        "message": "您未被分配到该场考试 (not assigned to this exam session).",
    }
    proctor.send({"type": "subscribe", "session_id": elsewhere.attempt.session_id})
    assert proctor.until("error")["code"] == "forbidden"
    elsewhere.attempt.refresh_from_db()
    assert elsewhere.attempt.status == "in_progress"

    proctor.send({"type": "force_submit", "attempt_id": other.attempt.pk, "request_id": "r4"})
    assert proctor.until("command_result", request_id="r4")["ok"] is True
    kinds = list(
        AttemptEvent.objects.filter(attempt=s.attempt).order_by("seq").values_list("kind", flat=True)
    )
    assert kinds == ["focus_lost", "focus_regained", "warn", "warning_ack", "proctor_message"]
    other.attempt.refresh_from_db()
    assert other.attempt.status == "force_submitted"
    for ws in (phone, desktop, proctor):
        ws.close()
