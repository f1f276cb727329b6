"""Desktop liveness, the end of an attempt and the proctors' audio meter, with real WebSocket clients
against a real daphne server (in-memory layer; Redis in the production pass)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from exams.models import Attempt, AttemptEvent, Deadline
from monitor import protocol as p
from monitor.models import DesktopPresence
from tests import services
from tests.monitor import factories as f
from tests.monitor.conftest import start_server
from tests.monitor.test_realtime import Api, wait_for
from tests.monitor.wsclient import WS

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.integration]

HEARTBEAT_TIMEOUT = 2.0


@pytest.fixture
def server(server_env: dict[str, str], tmp_path: Path) -> Iterator[services.Process]:
    proc = start_server({**server_env, "HEARTBEAT_TIMEOUT_SECONDS": str(HEARTBEAT_TIMEOUT)}, tmp_path)
    yield proc
    proc.stop()


def silent_desktop(api: Api, s: f.Sitting) -> WS:
    """A desktop client whose heartbeats stop (the exam client froze)."""
    ticket = api.post("/api/v1/ws-tickets", s.desktop_token, {"role": "desktop"})["ticket"]
    ws = WS(f"{api.ws_base}/ws/desktop/?ticket={ticket}", origin=api.base, keepalive=None)
    ws.send({"type": "hello", "version": 1})
    ws.until("hello_ok")
    return ws


def kinds(attempt: Attempt) -> list[str]:
    return list(AttemptEvent.objects.filter(attempt=attempt).order_by("seq").values_list("kind", flat=True))


def test_a_silent_desktop_is_lost_for_the_exam_rules_and_reconnecting_restores_it(
    server: services.Process,
) -> None:
    session = f.running_session()
    s = f.sitting(session, 1)
    api = Api(server)
    proctor = api.proctor(f.proctor(session), session.pk)
    proctor.until("session_state")
    desktop = silent_desktop(api, s)
    assert DesktopPresence.objects.get(attempt=s.attempt).lost_at is None

    assert desktop.closed_with(timeout=HEARTBEAT_TIMEOUT + 5) == p.CloseCode.HEARTBEAT_TIMEOUT
    alert = proctor.until("alert", kind="desktop_lost")
    assert (alert["attempt_id"], alert["data"]) == (s.attempt.pk, {"reason": "heartbeat_timeout"})
    delta = proctor.until("attempt", attempt_id=s.attempt.pk)
    assert [e["kind"] for e in delta["events"]] == ["desktop_lost"]
    assert delta["state"]["status"] == "device_lost"
    s.attempt.refresh_from_db()
    assert (s.attempt.status, s.attempt.lost_devices) == ("device_lost", ["desktop"])
    # The 5-minute reconnect rule is the exam rules': a device_return deadline runs.
    deadline = Deadline.objects.get(attempt=s.attempt, kind="device_return", cancelled_at__isnull=True)
    assert deadline.fired_at is None
    assert kinds(s.attempt) == ["desktop_lost"]

    desktop = api.desktop(s)  # the client comes back within the 5 minutes
    assert desktop.until("status")["state"]["status"] == "in_progress"
    assert proctor.until("alert", kind="desktop_restored")["attempt_id"] == s.attempt.pk
    s.attempt.refresh_from_db()
    assert (s.attempt.status, s.attempt.lost_devices) == ("in_progress", [])
    assert kinds(s.attempt) == ["desktop_lost", "desktop_restored"]
    deadline.refresh_from_db()
    assert deadline.cancelled_at is not None and deadline.fired_at is None
    assert DesktopPresence.objects.get(attempt=s.attempt).lost_at is None
    desktop.close()
    proctor.close()


def test_a_desktop_that_vanishes_is_lost_after_the_timeout_not_before(server: services.Process) -> None:
    s = f.sitting(f.running_session(), 1)
    api = Api(server)
    desktop = api.desktop(s)
    desktop.until("status")
    started = time.monotonic()
    desktop.drop()  # no close handshake: the machine crashed
    wait_for(lambda: kinds(s.attempt) == ["desktop_lost"], timeout=HEARTBEAT_TIMEOUT * 3 + 5)
    assert time.monotonic() - started >= HEARTBEAT_TIMEOUT - 0.5
    s.attempt.refresh_from_db()
    assert s.attempt.status == "device_lost"


def test_a_desktop_replaced_by_its_own_reconnect_is_not_lost(server: services.Process) -> None:
    s = f.sitting(f.running_session(), 1)
    api = Api(server)
    old = api.desktop(s)
    new = api.desktop(s)
    assert old.closed_with() == p.CloseCode.SUPERSEDED
    time.sleep(HEARTBEAT_TIMEOUT * 2)  # two sweeps' worth: the live socket keeps it present
    assert kinds(s.attempt) == []
    assert Attempt.objects.get(pk=s.attempt.pk).status == "in_progress"
    new.close()


def test_forced_submission_tells_desktop_and_phone_then_closes_both_with_attempt_ended(
    server: services.Process,
) -> None:
    session = f.running_session()
    s = f.sitting(session, 1)
    api = Api(server)
    phone, _ = api.phone(s, api.pair(s)["ws_url"])
    desktop = api.desktop(s)
    assert desktop.until("status")["state"]["status"] == "in_progress"
    proctor = api.proctor(f.proctor(session), session.pk)
    proctor.until("session_state")

    proctor.send({"type": "force_submit", "attempt_id": s.attempt.pk, "note": "多次违规", "request_id": "f"})
    assert proctor.until("command_result", request_id="f")["ok"] is True
    forced = desktop.until("forced_submit")
    assert (forced["status"], forced["text"]["zh"]) == ("force_submitted", "您的试卷已被强制提交")
    assert desktop.until("status")["state"]["status"] == "force_submitted"
    assert desktop.closed_with() == p.CloseCode.ATTEMPT_ENDED
    ended = phone.until("command", command="exam_ended")
    assert ended["text"]["zh"] == "您的试卷已被强制提交"
    assert phone.closed_with() == p.CloseCode.ATTEMPT_ENDED

    # Coming back changes nothing: the final state, then 4010 again; the phone likewise.
    again = api.desktop(s)
    assert again.until("status")["state"]["status"] == "force_submitted"
    assert again.closed_with() == p.CloseCode.ATTEMPT_ENDED
    phone_again, hello = api.phone(s)
    assert hello["attempt_id"] == s.attempt.pk
    assert phone_again.closed_with() == p.CloseCode.ATTEMPT_ENDED
    assert kinds(s.attempt) == ["force_submit"]
    proctor.close()


def test_disqualification_closes_the_sockets_after_the_final_message(server: services.Process) -> None:
    session = f.running_session()
    s = f.sitting(session, 1)
    other = f.sitting(session, 2)
    api = Api(server)
    phone, _ = api.phone(s, api.pair(s)["ws_url"])
    desktop = api.desktop(s)
    other_desktop = api.desktop(other)
    proctor = api.proctor(f.proctor(session), session.pk)
    proctor.until("session_state")
    proctor.send(
        {"type": "disqualify", "attempt_id": s.attempt.pk, "reason": "impersonation", "request_id": "d"}
    )
    assert proctor.until("command_result", request_id="d")["ok"] is True
    assert desktop.until("forced_submit")["status"] == "disqualified"
    assert desktop.closed_with() == p.CloseCode.ATTEMPT_ENDED
    assert phone.until("command", command="exam_ended")["text"]["zh"] == "您已被取消考试资格"
    assert phone.closed_with() == p.CloseCode.ATTEMPT_ENDED
    # Another candidate's sockets are untouched.
    other_desktop.send({"type": "heartbeat"})
    assert other_desktop.until("heartbeat_ack")["type"] == "heartbeat_ack"
    other_desktop.close()
    proctor.close()


AUDIO_WINDOW = 4.0


@pytest.fixture
def audio_server(server_env: dict[str, str], tmp_path: Path) -> Iterator[services.Process]:
    """A 4 s audio window: wide enough that the batches below surely fall into one window."""
    proc = start_server({**server_env, "WS_AUDIO_DELTA_INTERVAL_SECONDS": str(AUDIO_WINDOW)}, tmp_path)
    yield proc
    proc.stop()


def test_audio_reaches_proctors_aggregated_with_a_loud_audio_alert(audio_server: services.Process) -> None:
    session = f.running_session()
    s = f.sitting(session, 1)
    api = Api(audio_server)
    phone, _ = api.phone(s, api.pair(s)["ws_url"])
    proctor = api.proctor(f.proctor(session), session.pk)
    proctor.until("session_state")

    # The first batch is summarised at once; the next five fold into the following window, which
    # is emitted with the first batch that arrives once the window has passed.
    quiet = [-60.0] * 10
    phone.send({"type": "audio", "seq": 1, "interval_ms": 100, "levels": quiet})
    phone.until("audio_ack", seq=1)
    emitted = time.monotonic()
    first = proctor.until("audio", attempt_id=s.attempt.pk)
    assert (first["max_dbfs"], first["mean_dbfs"], first["readings"]) == (-60.0, -60.0, 10)
    assert first["session_id"] == session.pk
    talk = [-30.0] * 10  # speech level, sustained for 2 s across two batches
    for seq in range(2, 7):
        phone.send({"type": "audio", "seq": seq, "interval_ms": 100, "levels": talk if seq < 4 else quiet})
        phone.until("audio_ack", seq=seq)
    assert [m for m in proctor.backlog if m["type"] in ("audio", "alert")] == []
    time.sleep(max(0.0, AUDIO_WINDOW + 0.2 - (time.monotonic() - emitted)))
    phone.send({"type": "audio", "seq": 7, "interval_ms": 100, "levels": quiet})
    phone.until("audio_ack", seq=7)
    second = proctor.until("audio", attempt_id=s.attempt.pk)
    assert (second["readings"], second["max_dbfs"]) == (60, -30.0)
    # Energy mean: 20 readings at -30 and 40 at -60 → 10·log10((20·10^-3 + 40·10^-6) / 60) ≈ -34.8.
    assert second["mean_dbfs"] == -34.8
    loud = proctor.until("alert", kind="loud_audio")
    assert (loud["attempt_id"], loud["data"]) == (s.attempt.pk, {"max_dbfs": -30.0, "mean_dbfs": -34.8})
    assert [m["type"] for m in proctor.seen].count("audio") == 2  # 7 batches, 2 deltas
    proctor.close()
    phone.close()
