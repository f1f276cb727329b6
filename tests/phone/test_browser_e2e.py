"""End to end through a real browser camera: headless Chromium with a fake camera (a .y4m built from a
real photograph) and a fake microphone (a .wav of known loudness) opens the pairing QR URL, pairs with a
simulated desktop (REST + its WebSocket), accepts the notice, and streams over /ws/phone/ to a real
daphne server; frames are stored, analysed (in-process pool or a real Celery worker in the production
pass) and reach the proctor's WebSocket. The socket is then cut and its reconnection blocked while
frames keep being captured, the page is even reloaded: after it comes back, every sequence number is
stored exactly once.
"""

from __future__ import annotations

import json
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
from django.conf import settings
from django.utils import timezone
from websockets.sync.client import ClientConnection, connect
from websockets.typing import Origin

from accounts import roles
from accounts.models import User
from exams.models import Attempt
from media_pipeline.audio import decode_levels
from media_pipeline.models import AudioBatch, FrameAnalysis, Snapshot
from monitor import services as monitor_services
from monitor.models import PhoneDevice
from tests.accounts import factories
from tests.conftest import CHROMIUM_ARGS, CHROMIUM_EXECUTABLE, is_production_profile
from tests.phone import media

pytestmark = [pytest.mark.browser, pytest.mark.integration, pytest.mark.django_db(transaction=True)]

INTERVAL_S = 2  # ExamSession.snapshot_interval_s for this test (default 10): a faster test
TONE_DBFS = -20.0


@dataclass
class Socket:
    """A WebSocket client on its own thread: collects every JSON message, sends heartbeats."""

    conn: ClientConnection
    name: str
    messages: list[dict[str, Any]] = field(default_factory=list)
    lock: threading.Condition = field(default_factory=threading.Condition)
    closed: bool = False

    @classmethod
    def open(cls, url: str, name: str, origin: str) -> Socket:
        sock = cls(connect(url, origin=Origin(origin), open_timeout=10, legacy=True), name)
        threading.Thread(target=sock._read, daemon=True).start()
        threading.Thread(target=sock._beat, daemon=True).start()
        return sock

    def _read(self) -> None:
        try:
            for raw in self.conn:
                with self.lock:
                    self.messages.append(json.loads(raw))
                    self.lock.notify_all()
        except Exception:  # noqa: BLE001 - the socket closed; the test asserts on what arrived
            pass
        finally:
            self.closed = True

    def _beat(self) -> None:
        while not self.closed:
            time.sleep(3)
            try:
                self.send({"type": "heartbeat"})
            except Exception:  # noqa: BLE001
                return

    def send(self, message: dict[str, Any]) -> None:
        self.conn.send(json.dumps(message))

    def wait_for(self, predicate: Callable[[dict[str, Any]], bool], timeout: float = 30) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        with self.lock:
            while True:
                for message in self.messages:
                    if predicate(message):
                        return message
                left = deadline - time.monotonic()
                if left <= 0 or self.closed:
                    types = [m.get("type") for m in self.messages]
                    raise AssertionError(f"{self.name}: no matching message within {timeout}s; got {types}")
                self.lock.wait(left)

    def close(self) -> None:
        self.closed = True
        self.conn.close()


@pytest.fixture
def servers(request: pytest.FixtureRequest, live_server_process: Any, artifacts_dir: Path) -> Iterator[Any]:
    """The daphne server, plus a real Celery worker in the production pass (analysis runs there).
    Their logs are kept next to the screenshots."""
    processes = [live_server_process]
    if is_production_profile():
        processes.append(request.getfixturevalue("celery_worker_process"))
    yield live_server_process
    for proc in processes:
        if proc.log_path.exists():
            shutil.copyfile(proc.log_path, artifacts_dir / f"phone-e2e-{proc.name}.log")


@pytest.fixture
def fake_media(tmp_path: Path) -> tuple[Path, Path]:
    return (
        media.write_y4m(tmp_path / "camera.y4m", photo_name="astronaut"),
        media.write_wav(tmp_path / "microphone.wav", rms_dbfs=TONE_DBFS),
    )


@pytest.fixture
def phone_browser(chromium: Any, fake_media: tuple[Path, Path]) -> Iterator[Any]:
    """A second Chromium from the same Playwright, with the fake camera and microphone."""
    video, audio = fake_media
    browser = chromium.browser_type.launch(
        executable_path=CHROMIUM_EXECUTABLE,
        args=[
            *CHROMIUM_ARGS,
            "--use-fake-device-for-media-stream",
            "--use-fake-ui-for-media-stream",
            f"--use-file-for-fake-video-capture={video}",
            f"--use-file-for-fake-audio-capture={audio}",
            "--autoplay-policy=no-user-gesture-required",
        ],
    )
    yield browser
    browser.close()


def _exam() -> tuple[Attempt, User, str, str]:
    session = factories.session(starts_at=timezone.now() - timedelta(minutes=1))
    session.snapshot_interval_s = INTERVAL_S
    session.save()
    candidate = factories.candidate(7, name="李四")
    attempt = factories.register(candidate, session)
    proctor = User.objects.create_user(username="proctor-e2e", password="unused-password-1")
    roles.role_assign(user=proctor, role="proctor")
    session.proctors.add(proctor)
    return attempt, proctor, factories.ticket(7), factories.id_number(7)


def _wait(predicate: Callable[[], Any], timeout: float, what: str | Callable[[], str]) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.25)
    raise AssertionError(f"timed out after {timeout}s waiting for {what() if callable(what) else what}")


def test_phone_browser_pairs_streams_resumes_and_reaches_the_proctor(
    servers: Any, phone_browser: Any, artifacts_dir: Path
) -> None:
    base = servers.extra["url"]
    ws_base = "ws" + base[len("http") :]
    attempt, proctor, ticket_number, id_number = _exam()

    # --- the desktop: logs in, shows the pairing QR, listens on its WebSocket -------------------------
    http = requests.Session()
    login = http.post(
        f"{base}/api/v1/auth/desktop-login", json={"ticket_number": ticket_number, "id_number": id_number}
    )
    assert login.status_code == 200, login.text
    auth = {"Authorization": f"Bearer {login.json()['token']}"}
    pairing = http.post(f"{base}/api/v1/pairing/tokens", headers=auth)
    assert pairing.status_code == 201, pairing.text
    qr_url, confirm_code = pairing.json()["url"], pairing.json()["confirm_code"]
    public = settings.PUBLIC_BASE_URL.rstrip("/")
    assert qr_url.startswith(f"{public}/m/pair?t=")
    ticket = http.post(f"{base}/api/v1/ws-tickets", json={"role": "desktop"}, headers=auth)
    assert ticket.status_code == 201, ticket.text
    desktop = Socket.open(f"{ws_base}/ws/desktop/?ticket={ticket.json()['ticket']}", "desktop", base)
    desktop.send({"type": "hello", "version": 1, "client": "e2e-desktop"})
    desktop.wait_for(lambda m: m["type"] == "pairing" and m["state"] == "unpaired")

    # --- the proctor console's socket, subscribed to the session ---------------------------------------
    proctor_ticket = monitor_services.ws_ticket_issue(role="proctor", user=proctor).raw
    proctor_ws = Socket.open(f"{ws_base}/ws/proctor/?ticket={proctor_ticket}", "proctor", base)
    proctor_ws.send({"type": "hello", "version": 1})
    proctor_ws.wait_for(lambda m: m["type"] == "hello_ok")
    proctor_ws.send({"type": "subscribe", "session_id": attempt.session_id})
    proctor_ws.wait_for(lambda m: m["type"] == "session_state")

    # --- the phone: a browser opens the QR URL ------------------------------------------------------------
    context = phone_browser.new_context(
        viewport={"width": 390, "height": 844},
        device_scale_factor=2,
        is_mobile=True,
        has_touch=True,
        locale="zh-CN",
        user_agent="Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/126.0 Mobile Safari/537.36",
    )
    page = context.new_page()
    page_errors: list[str] = []  # uncaught exceptions in the page's script
    page.on("pageerror", lambda exc: page_errors.append(str(exc)))
    page.goto(base + qr_url[len(public) :])
    assert "t=" not in page.url  # the script took the token out of the address bar
    page.fill("#confirm-code", confirm_code)
    page.click("#pair-button")
    page.wait_for_selector("#step-notice:not([hidden])")
    notice = page.inner_text("#notice-items")
    assert f"每 {INTERVAL_S} 秒拍摄一张照片" in notice
    assert "保存 180 天后自动删除" in notice
    page.screenshot(path=str(artifacts_dir / "phone-notice.png"))
    page.click("#accept-button")
    accepted_at = time.monotonic()

    page.wait_for_selector("#status[data-state='monitoring']", timeout=20_000)
    assert page.inner_text("#status") == "监控中"
    device = PhoneDevice.objects.get(attempt=attempt)
    assert device.kind == PhoneDevice.Kind.BROWSER
    assert device.user_agent.startswith("Mozilla/5.0 (Linux; Android 14")
    attempt.refresh_from_db()
    assert attempt.monitoring_consent_at is not None
    paired = desktop.wait_for(lambda m: m["type"] == "pairing" and m["state"] == "paired")
    assert (paired["device_id"], paired["kind"]) == (device.pk, "browser")
    online = desktop.wait_for(lambda m: m["type"] == "pairing" and m["state"] == "online")
    assert online["device_id"] == device.pk
    desktop.wait_for(lambda m: m["type"] == "monitoring" and m["on"] is True)

    # Framing guidance from the analysis of a real frame, shown over the live picture.
    page.wait_for_selector("#guidance[data-seq]", timeout=30_000)
    first_guidance_s = time.monotonic() - accepted_at
    framing_seq = int(page.get_attribute("#guidance", "data-seq") or 0)
    analysed = FrameAnalysis.objects.get(snapshot__device=device, snapshot__seq=framing_seq)
    assert page.get_attribute("#guidance", "data-ok") == ("1" if analysed.passed else "0")
    guidance_zh = [g["zh"] for g in analysed.report.get("guidance", [])]
    shown = page.inner_text("#guidance")
    if analysed.passed or not guidance_zh:
        assert shown == "✓ 画面合格"
    else:
        assert shown.splitlines() == guidance_zh
    page.screenshot(path=str(artifacts_dir / "phone-monitor-guidance.png"))

    # Frames reached the proctor console.
    delta = proctor_ws.wait_for(lambda m: m["type"] == "snapshot" and m["attempt_id"] == attempt.pk)
    assert Snapshot.objects.get(pk=delta["snapshot_id"]).device_id == device.pk

    # --- cut the socket and keep reconnection blocked while frames are captured ---------------------------
    page.route("**/m/api/ticket", lambda route: route.abort())
    acked_before = Snapshot.objects.filter(device=device).count()
    page.evaluate("window.__phoneMonitor.ws.close()")
    page.wait_for_selector("#status[data-state='reconnecting']")
    _wait(lambda: int(page.inner_text("#stat-queued")) >= 2, 20, "two frames queued while offline")
    # The candidate even reloads the page meanwhile: the unacked frames come back from IndexedDB.
    queued = int(page.inner_text("#stat-queued"))
    before = page.evaluate("Array.from(window.__phoneMonitor.frames.keys())")
    page.reload()
    page.wait_for_selector("#step-monitor:not([hidden])")
    _wait(lambda: int(page.inner_text("#stat-queued")) >= queued, 10, "the queue restored after the reload")
    queued = int(page.inner_text("#stat-queued"))
    restored = page.evaluate("Array.from(window.__phoneMonitor.frames.keys())")
    assert restored[: len(before)] == before
    page.unroute("**/m/api/ticket")
    page.wait_for_selector("#status[data-state='monitoring']", timeout=30_000)
    _wait(lambda: page.inner_text("#stat-queued") == "0", 20, "the queue to drain")
    seqs = sorted(Snapshot.objects.filter(device=device).values_list("seq", flat=True))
    assert len(seqs) >= acked_before + queued
    diagnosis = (seqs, before, restored, page.evaluate("window.__phoneMonitor.rejected"))
    assert seqs == list(range(1, len(seqs) + 1)), diagnosis  # nothing lost, nothing twice
    device.refresh_from_db()
    assert device.last_acked_seq == seqs[-1]

    # Every stored frame is analysed (in-process pool or the Celery worker).
    _wait(
        lambda: (
            not Snapshot.objects.filter(device=device, seq__in=seqs).exclude(analysis_status="done").exists()
        ),
        60,
        lambda: (
            "every frame analysed: "
            + str(list(Snapshot.objects.filter(device=device).values_list("seq", "analysis_status")))
        ),
    )
    assert FrameAnalysis.objects.filter(snapshot__device=device).count() >= len(seqs)

    # Sound levels computed in the page with Web Audio from the fake microphone's -20 dBFS tone.
    batches = list(AudioBatch.objects.filter(device=device).order_by("seq"))
    assert len(batches) >= 3
    assert [b.seq for b in batches] == list(range(1, len(batches) + 1))
    assert {b.interval_ms for b in batches} == {100}
    levels = [v for b in batches[1:] for v in decode_levels(bytes(b.levels))]
    median = sorted(levels)[len(levels) // 2]
    assert abs(median - TONE_DBFS) <= 3, (median, levels[:20])

    page.screenshot(path=str(artifacts_dir / "phone-monitor-resumed.png"))
    # Numbers for people (not asserted: speed is measured, never a test condition).
    stored = list(Snapshot.objects.filter(device=device).values_list("size_bytes", "width", "height"))
    durations = sorted(
        FrameAnalysis.objects.filter(snapshot__device=device).values_list("duration_ms", flat=True)
    )
    numbers = {
        "profile": "production" if is_production_profile() else "embedded",
        "consent_to_first_guidance_s": round(first_guidance_s, 2),
        "frames_stored": len(stored),
        "frame_bytes_median": sorted(b for b, _, _ in stored)[len(stored) // 2],
        "frame_size": f"{stored[0][1]}x{stored[0][2]}",
        "analysis_ms_median": round(durations[len(durations) // 2], 1),
        "audio_batches": len(batches),
        "audio_level_median_dbfs": median,
    }
    (artifacts_dir / f"phone-e2e-numbers-{numbers['profile']}.json").write_text(json.dumps(numbers, indent=2))
    assert page_errors == []
    context.close()
    desktop.close()
    proctor_ws.close()


@pytest.mark.django_db(transaction=True)
def test_phone_browser_pairs_by_ticket_and_id_number_in_english(
    live_server_process: Any, phone_browser: Any, artifacts_dir: Path
) -> None:
    base = live_server_process.extra["url"]
    attempt, _proctor, ticket_number, id_number = _exam()
    issued = monitor_services.pairing_token_create(attempt_id=attempt.pk)
    context = phone_browser.new_context(viewport={"width": 390, "height": 844}, device_scale_factor=2)
    page = context.new_page()
    page.goto(base + issued.url[len(settings.PUBLIC_BASE_URL.rstrip("/")) :])
    page.click("#lang")
    assert page.inner_text("#pair-button") == "Pair this phone"
    page.click("#proof-switch")
    page.fill("#ticket-number", ticket_number)
    page.fill("#id-number", id_number[:-1] + ("0" if id_number[-1] != "0" else "1"))  # a typo
    page.click("#pair-button")
    page.wait_for_selector("#identity-error:not([hidden])")
    assert page.get_attribute("#identity-error", "data-code") == "identity_mismatch"
    assert PhoneDevice.objects.count() == 0
    page.screenshot(path=str(artifacts_dir / "phone-identity-en.png"))
    page.fill("#id-number", id_number)
    page.click("#pair-button")
    page.wait_for_selector("#step-notice:not([hidden])")
    assert page.input_value("#id-number") == ""
    assert page.inner_text("#notice-title") == "Exam monitoring notice"
    assert PhoneDevice.objects.get().attempt_id == attempt.pk
    context.close()


def _open_paired_page(browser: Any, base: str, attempt: Attempt) -> tuple[Any, Any, list[str]]:
    """A phone browser that scanned a fresh QR of ``attempt``, paired, consented and is monitoring."""
    issued = monitor_services.pairing_token_create(attempt_id=attempt.pk)
    context = browser.new_context(viewport={"width": 390, "height": 844})
    page = context.new_page()
    tickets: list[str] = []
    page.on("request", lambda req: tickets.append(req.url) if req.url.endswith("/m/api/ticket") else None)
    page.goto(base + issued.url[len(settings.PUBLIC_BASE_URL.rstrip("/")) :])
    page.fill("#confirm-code", issued.pairing.confirm_code)
    page.click("#pair-button")
    page.wait_for_selector("#step-notice:not([hidden]), #step-monitor:not([hidden])")
    if page.is_visible("#accept-button"):
        page.click("#accept-button")
    page.wait_for_selector("#status[data-state='monitoring']", timeout=20_000)
    return context, page, tickets


def test_a_replaced_phone_stops_and_the_end_of_the_exam_stops_the_other(
    servers: Any, phone_browser: Any, artifacts_dir: Path
) -> None:
    base = servers.extra["url"]
    attempt, proctor, ticket_number, id_number = _exam()
    login = requests.post(
        f"{base}/api/v1/auth/desktop-login", json={"ticket_number": ticket_number, "id_number": id_number}
    )
    assert login.status_code == 200, login.text  # checked in: the exam is live

    first_context, first, first_tickets = _open_paired_page(phone_browser, base, attempt)
    second_context, second, second_tickets = _open_paired_page(phone_browser, base, attempt)

    # The first phone is told it was replaced (close 4003) and stops: no new ticket, no reconnection.
    first.wait_for_selector("#status[data-state='stopped']", timeout=15_000)
    assert first.inner_text("#status") == "已有其他手机接替监控，本页面已停止"
    tickets_then = len(first_tickets)
    assert first.evaluate("window.__phoneMonitor.stream.getTracks().every(t => t.readyState === 'ended')")

    # A proctor ends the exam from the console's socket (the server applies it and pushes): the second
    # phone shows the command and stops for good (close 4010).
    proctor_ticket = monitor_services.ws_ticket_issue(role="proctor", user=proctor).raw
    proctor_ws = Socket.open(f"ws{base[4:]}/ws/proctor/?ticket={proctor_ticket}", "proctor", base)
    proctor_ws.send({"type": "hello", "version": 1})
    proctor_ws.wait_for(lambda m: m["type"] == "hello_ok")
    proctor_ws.send({"type": "force_submit", "attempt_id": attempt.pk, "request_id": "end-1"})
    result = proctor_ws.wait_for(lambda m: m["type"] == "command_result")
    assert result["ok"] is True, result
    second.wait_for_selector("#status[data-state='stopped']", timeout=15_000)
    assert second.inner_text("#status") == "考试已结束，可以关闭本页面"
    assert second.is_visible("#command")
    second.screenshot(path=str(artifacts_dir / "phone-exam-ended.png"))
    second_tickets_then = len(second_tickets)
    time.sleep(3)  # long enough for a (wrong) reconnection attempt with the first backoff step
    assert (len(first_tickets), len(second_tickets)) == (tickets_then, second_tickets_then)
    devices = list(
        PhoneDevice.objects.filter(attempt=attempt).order_by("pk").values_list("revoke_reason", flat=True)
    )
    assert devices == ["replaced", ""]
    proctor_ws.close()
    first_context.close()
    second_context.close()
