"""The console in real headless Chromium against a real daphne server, with candidates streaming
over the real phone and desktop WebSockets (monitor/protocol.py) from this test.

Shows: the grid updates live (snapshot thumbnails, screen-leave flags, alerts); a warning reaches the
candidate's desktop and phone and the acknowledgement comes back to the console; a break approval
and a forced submission change the attempt as the rules say. Screenshots go to test-artifacts/.
"""

from __future__ import annotations

import io
import re
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
from django.contrib.auth.hashers import PBKDF2PasswordHasher
from PIL import Image, ImageDraw

from accounts.models import Role
from accounts.roles import role_assign
from exams.models import Attempt, AttemptEvent, Deadline
from monitor import protocol as p
from monitor.console.models import ProctorActionAudit
from tests import services
from tests.conftest import is_production_profile
from tests.monitor import factories as mf
from tests.monitor.wsclient import WS

# Both passes: in production (Redis layer, Celery worker, SeaweedFS S3) full images are presigned
# S3 redirects that the browser follows.
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser, pytest.mark.integration]

PASSWORD = "pw-proctor-123"  # tests.monitor.factories.proctor's password


def frame(i: int, *, color: tuple[int, int, int] = (60, 110, 150)) -> bytes:
    """A 640×480 side view: a desk, a head and shoulders, the frame number."""
    image = Image.new("RGB", (640, 480), color)
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 330, 640, 480), fill=(120, 90, 60))
    draw.ellipse((270, 90, 380, 220), fill=(225, 185, 150))
    draw.rectangle((220, 220, 430, 340), fill=(40, 40, 110))
    draw.text((12, 12), f"frame {i}", fill=(255, 255, 255))
    buf = io.BytesIO()
    image.save(buf, "JPEG", quality=80)
    return buf.getvalue()


class Candidate:
    """One simulated candidate: the desktop exam client and the paired phone, both on WebSockets."""

    def __init__(self, server: services.Process, sitting: mf.Sitting) -> None:
        self.base = server.extra["url"]
        self.ws_base = self.base.replace("http://", "ws://")
        self.s = sitting
        pairing = self._post("/api/v1/pairing/tokens", sitting.desktop_token)
        claim = self._post(
            "/api/v1/pairing/claim", sitting.phone_token, {"token": pairing["url"].split("?t=")[1]}
        )
        self.phone = WS(claim["ws_url"])
        self.phone.send({"type": "hello", "version": 1, "device": {"platform": "android", "model": "sim"}})
        self.phone.until("hello_ok")
        ticket = self._post("/api/v1/ws-tickets", sitting.desktop_token, {"role": "desktop"})["ticket"]
        self.desktop = WS(f"{self.ws_base}/ws/desktop/?ticket={ticket}", origin=self.base)
        self.desktop.send({"type": "hello", "version": 1})
        self.desktop.until("hello_ok")
        self.seq = 0

    def _post(self, path: str, token: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        r = requests.post(
            self.base + path, json=body or {}, headers={"Authorization": f"Bearer {token}"}, timeout=10
        )
        assert r.status_code in (200, 201), r.text
        result: dict[str, Any] = r.json()
        return result

    def snapshot(self) -> int:
        self.seq += 1
        self.phone.send(p.build_snapshot_frame(seq=self.seq, data=frame(self.seq)))
        return int(self.phone.until("ack", seq=self.seq)["snapshot_id"])

    def close(self) -> None:
        self.phone.close()
        self.desktop.close()


@pytest.fixture
def world(live_server_process: services.Process, request: pytest.FixtureRequest) -> dict[str, Any]:
    if is_production_profile():
        # Frame analysis (which announces new snapshots to proctors) runs on a Celery worker there.
        request.getfixturevalue("celery_worker_process")
    session = mf.running_session()
    sittings = [mf.sitting(session, i) for i in range(1, 34)]  # 33: more than one page of 30
    proctor = mf.proctor(session)
    role_assign(user=proctor, role=Role.PROCTOR)
    # The test settings hash with MD5 for speed; the live server knows only the real hashers.
    proctor.password = PBKDF2PasswordHasher().encode(PASSWORD, PBKDF2PasswordHasher().salt())
    proctor.save(update_fields=["password"])
    return {"server": live_server_process, "session": session, "sittings": sittings, "proctor": proctor}


def _login(browser: Any, base: str, username: str) -> Any:
    context = browser.new_context(viewport={"width": 1366, "height": 768}, locale="zh-CN")
    page = context.new_page()
    page.goto(base + "/console/sessions/")
    assert page.url.startswith(base + "/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_load_state()
    assert page.url == base + "/console/sessions/", page.content()[:3000]
    return page


def test_grid_updates_live_and_warning_break_force_submit_round_trip(
    world: dict[str, Any], chromium: Any, artifacts_dir: Path
) -> None:
    server, session = world["server"], world["session"]
    base = server.extra["url"]
    first, second = world["sittings"][0], world["sittings"][1]
    alice = Candidate(server, first)
    bob = Candidate(server, second)
    page = _login(chromium, base, world["proctor"].username)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))

    # --- the grid: 30 tiles per page, live over the proctor socket --------------------------------
    page.goto(f"{base}/console/sessions/{session.pk}/")
    assert page.locator(".tile").count() == 30
    page.wait_for_selector('#ws-status[data-state="connected"]')
    tile = page.locator(f'.tile[data-attempt="{first.attempt.pk}"]')
    assert tile.locator(".phone-label").inner_text() == "在线"

    snap_id = alice.snapshot()
    tile.locator(f'img.snap[src$="/api/v1/media/snapshots/{snap_id}/thumbnail"]').wait_for(timeout=15000)
    bob_snap = bob.snapshot()
    page.locator(
        f'.tile[data-attempt="{second.attempt.pk}"] img.snap[src*="/snapshots/{bob_snap}/"]'
    ).wait_for(timeout=15000)
    thumb = requests.get(
        f"{base}/api/v1/media/snapshots/{snap_id}/thumbnail",
        cookies={c["name"]: c["value"] for c in page.context.cookies()},
        timeout=10,
    )
    assert (thumb.status_code, thumb.headers["Content-Type"]) == (200, "image/jpeg")
    assert Image.open(io.BytesIO(thumb.content)).size == (320, 240)

    alice.desktop.send({"type": "focus", "state": "lost"})
    tile.locator(".flag-focus").wait_for(state="visible", timeout=10000)
    alert = page.locator(f'#alerts li.alert[data-attempt="{first.attempt.pk}"][data-kind="focus_lost"]')
    alert.wait_for(timeout=10000)
    assert alert.locator(".a-kind").inner_text() == "离开考试界面"
    alice.desktop.send({"type": "focus", "state": "regained"})
    tile.locator(".flag-focus").wait_for(state="hidden", timeout=10000)
    page.wait_for_function(
        "n => document.querySelector(`.tile[data-attempt='${n}'] .leaves b`).textContent === '1'",
        arg=first.attempt.pk,
    )
    bob.desktop.send({"type": "break_request", "reason": "去洗手间"})
    page.locator(f'.tile[data-attempt="{second.attempt.pk}"] .flag-break').wait_for(
        state="visible", timeout=10000
    )
    page.locator(
        f'#alerts li.alert[data-attempt="{second.attempt.pk}"][data-kind="break_requested"]'
    ).wait_for()
    page.screenshot(path=str(artifacts_dir / "console-grid.png"))

    # --- the candidate view: warning → desktop + phone → acknowledgement back -----------------------
    tile.locator("a.tile-link").click()
    page.wait_for_url(f"{base}/console/attempts/{first.attempt.pk}/")
    page.wait_for_selector('#ws-status[data-state="connected"]')
    assert (
        page.locator("#live-image").get_attribute("src").endswith(f"/api/v1/media/snapshots/{snap_id}/image")
    )
    page.wait_for_function("document.getElementById('live-image').naturalWidth === 640")  # loaded
    page.select_option("#warn-phrase", "headphones")
    assert page.input_value("#warn-text") == "考试中禁止佩戴耳机，请摘下耳机并露出双耳。"
    assert page.input_value("#warn-category") == "appearance"
    page.click("#warn-form button[type=submit]")
    warning = alice.desktop.until("warning", category="appearance")
    assert (warning["category"], warning["text"]["zh"], warning["count"]) == (
        "appearance",
        "考试中禁止佩戴耳机，请摘下耳机并露出双耳。",
        1,
    )
    command = alice.phone.until("command", command="warning", data={"category": "appearance"})
    assert (command["command"], command["text"]["zh"]) == (
        "warning",
        "考试中禁止佩戴耳机，请摘下耳机并露出双耳。",
    )
    alice.phone.send({"type": "command_ack", "command_id": command["command_id"]})
    page.locator("#sent-warnings li.pending").wait_for(timeout=10000)  # sent, not yet acknowledged
    assert page.locator("#sent-warnings li").count() == 1
    alice.desktop.send({"type": "warning_ack", "warning_id": warning["warning_id"]})
    page.locator("#sent-warnings li.acked").wait_for(timeout=10000)
    assert page.locator("#sent-warnings li.acked .w-state").inner_text().startswith("考生已确认")
    page.locator('#timeline li[data-kind="warning_ack"]').wait_for(timeout=10000)
    page.wait_for_function(
        "document.querySelector('.attempt-head .counter[data-cat=appearance] b').textContent === '1'"
    )

    # --- a break request, approved by the proctor: on_break as the rules say -----------------------
    alice.desktop.send({"type": "break_request", "reason": "去洗手间"})
    page.wait_for_function("document.getElementById('break-state').classList.contains('attention')")
    page.click('[data-command="approve_break"]')
    decision = alice.desktop.until("break_decision")
    approved_at = AttemptEvent.objects.get(attempt_id=first.attempt.pk, kind="break_approve").created_at
    assert decision["approved"] is True
    # The rules: back within 5 minutes of the approval (the stored deadline the candidate is told).
    deadline = Deadline.objects.get(attempt_id=first.attempt.pk, kind="break_return")
    assert datetime.fromisoformat(decision["due_at"]) == deadline.due_at
    assert timedelta(seconds=299) < deadline.due_at - approved_at <= timedelta(minutes=5)
    page.wait_for_function("document.getElementById('status-pill').textContent.trim() === '暂离（已批准）'")
    assert Attempt.objects.get(pk=first.attempt.pk).status == "on_break"
    alice.desktop.send({"type": "break_return"})
    page.wait_for_function("document.getElementById('status-pill').textContent.trim() === '考试中'")

    # --- a forced submission: the attempt ends, the candidate is told -----------------------------
    page.fill("#end-reason", "多次违规，监考员强制交卷")
    page.once("dialog", lambda d: d.accept())
    page.click('[data-command="force_submit"]')
    forced = alice.desktop.until("forced_submit")
    assert forced["text"]["zh"] == "您的试卷已被强制提交"
    page.wait_for_function("document.getElementById('status-pill').textContent.trim() === '强制交卷'")
    assert page.locator('[data-command="force_submit"]').is_disabled()
    page.locator('#timeline li[data-kind="force_submit"].sev-3').wait_for(timeout=10000)
    attempt = Attempt.objects.get(pk=first.attempt.pk)
    assert attempt.status == "force_submitted"
    kinds = list(AttemptEvent.objects.filter(attempt=attempt).values_list("kind", "actor").order_by("seq"))
    proctor_label = f"proctor:{world['proctor'].pk}"
    assert ("warn", proctor_label) in kinds
    assert ("break_approve", proctor_label) in kinds
    assert kinds[-1] == ("force_submit", proctor_label)
    assert ProctorActionAudit.objects.filter(action="view_attempt", attempt_id=attempt.pk).exists()
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=str(artifacts_dir / "console-candidate.png"))

    # Nothing secret in the page source: no ticket, no bearer token.
    html = page.content()
    assert "ticket=" not in html
    assert first.desktop_token not in html and first.phone_token not in html
    assert not re.search(r"X-Amz-Signature", html)
    assert errors == []
    alice.close()
    bob.close()
