"""REST API: the desktop client's attempt, proctors' sessions and decisions, refusals, the schema."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from rest_framework.test import APIClient

from accounts.models import AuthToken, Role, WechatIdentity
from accounts.roles import role_assign
from accounts.tokens import token_issue
from exams import clock
from exams.models import Attempt, ExamSession
from tests.exams.helpers import at, make_attempt, make_session, snapshot, start_attempt

pytestmark = pytest.mark.django_db


def desktop_client(attempt: Attempt) -> APIClient:
    issued = token_issue(kind=AuthToken.Kind.DESKTOP, candidate=attempt.candidate, attempt_id=attempt.pk)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {issued.raw}")
    return client


def staff_client(username: str, role: str | None, session: ExamSession | None = None) -> APIClient:
    user = get_user_model().objects.create_user(username=username, password="pw-" + username)
    if role:
        role_assign(user=user, role=role)
    if session is not None:
        session.proctors.add(user)
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(user)
    return client


def csrf_post(client: APIClient, url: str, body: dict[str, Any]) -> Any:
    """Session-authenticated writes need the CSRF cookie and header, as from the proctor console."""
    token = "t" * 32  # any 32-character secret; Django compares cookie and header
    client.cookies["csrftoken"] = token
    return client.post(url, data=json.dumps(body), content_type="application/json", HTTP_X_CSRFTOKEN=token)


def test_desktop_reads_its_attempt_and_sends_actions() -> None:
    attempt = make_attempt()
    client = desktop_client(attempt)
    clock.freeze(at(-600))
    body = client.get("/api/v1/attempt").json()
    assert (body["attempt_id"], body["status"], body["label"]) == (attempt.pk, "registered", "已报名")
    assert (body["session"]["login_opens_at"], body["session"]["login_closes_at"]) == (
        "2030-06-01T08:00:00+08:00",
        "2030-06-01T08:45:00+08:00",
    )
    assert client.post("/api/v1/attempt/actions", {"action": "check_in"}, format="json").json()["status"] == (
        "checked_in"
    )
    clock.freeze(at(60))
    state = client.post(
        "/api/v1/attempt/actions",
        {"action": "start", "data": {"consent": True}, "client_time": "2030-06-01T08:31:00+08:00"},
        format="json",
    ).json()
    assert (state["status"], state["screen_leaves_left"], state["time_left_s"]) == ("in_progress", 3, 7140)
    state = client.post("/api/v1/attempt/actions", {"action": "focus_lost"}, format="json").json()
    assert state["away_from_screen"] is True
    assert [(d["kind"], d["seconds_left"], d["message"]) for d in state["deadlines"]] == [
        ("leave_return", 20, "请在 20 秒内返回考试界面")
    ]
    clock.freeze(at(66))
    state = client.get("/api/v1/attempt", HTTP_ACCEPT_LANGUAGE="en").json()
    assert (state["label"], state["deadlines"][0]["seconds_left"]) == ("In progress", 14)
    assert state["deadlines"][0]["message_en"] == "Return to the exam window within 14 s"


def test_desktop_rule_refusals_use_the_error_envelope() -> None:
    attempt = start_attempt(make_attempt(), at_s=600)
    client = desktop_client(attempt)
    before = snapshot(attempt)
    response = client.post("/api/v1/attempt/actions", {"action": "submit"}, format="json")
    assert response.status_code == 409
    assert response.json()["code"] == "submit_too_early"
    assert response.json()["extra"]["seconds_until"] == 1200
    assert snapshot(attempt) == before


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"action": "warn", "data": {"category": "camera"}}, 403, "action_not_allowed"),
        ({"action": "force_submit"}, 403, "action_not_allowed"),
        ({"action": "in_progress"}, 400, "unknown_action"),
        ({"action": "focus_lost", "data": {"reason": "x", "extra": 1}}, 400, "invalid_action_data"),
        ({"action": "focus_lost", "status": "submitted"}, 400, "invalid"),
        ({"data": {}}, 400, "invalid"),
        ({"action": "focus_lost", "evidence": {"snapshots": "all"}}, 400, "invalid_action_data"),
    ],
)
def test_desktop_bad_requests_change_nothing(body: dict[str, Any], status: int, code: str) -> None:
    attempt = start_attempt(make_attempt(), at_s=600)
    client = desktop_client(attempt)
    before = snapshot(attempt)
    response = client.post("/api/v1/attempt/actions", body, format="json")
    assert (response.status_code, response.json()["code"]) == (status, code)
    assert snapshot(attempt) == before


def test_desktop_endpoints_need_a_desktop_token() -> None:
    attempt = make_attempt()
    assert APIClient().get("/api/v1/attempt").json()["code"] == "not_authenticated"
    mini = token_issue(
        kind=AuthToken.Kind.MINIPROGRAM, wechat_identity=WechatIdentity.objects.create(openid="o1")
    )
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {mini.raw}")
    response = client.get("/api/v1/attempt")
    assert (response.status_code, response.json()["code"]) == (403, "forbidden")
    # A proctor's session cookie does not make a desktop client.
    proctor = staff_client("p0", Role.PROCTOR, attempt.session)
    assert proctor.get("/api/v1/attempt").status_code in (401, 403)


def test_proctor_sees_own_sessions_and_decides() -> None:
    session = make_session()
    other_session = make_session(starts_at=at(4 * 3600))
    attempt = start_attempt(make_attempt(session), at_s=600)
    make_attempt(other_session)
    client = staff_client("p1", Role.PROCTOR, session)
    sessions = client.get("/api/v1/sessions/").json()
    assert [s["id"] for s in sessions] == [session.pk]
    rows = client.get(f"/api/v1/sessions/{session.pk}/attempts").json()
    assert [(r["id"], r["status"]) for r in rows] == [(attempt.pk, "in_progress")]
    assert "*" in rows[0]["id_number_masked"]

    response = csrf_post(
        client,
        f"/api/v1/attempts/{attempt.pk}/actions",
        {"action": "warn", "data": {"category": "appearance", "message": "请摘下帽子"}},
    )
    assert response.status_code == 200, response.json()
    warnings = {w["category"]: w for w in response.json()["warnings"]}
    assert (
        warnings["appearance"]["uncorrected"],
        warnings["appearance"]["left_before_disqualification"],
    ) == (1, 2)

    detail = client.get(f"/api/v1/attempts/{attempt.pk}").json()
    assert [e["kind"] for e in detail["events"]] == ["check_in", "consent", "start", "warn"]
    user_id = get_user_model().objects.get(username="p1").pk
    assert detail["events"][-1]["actor"] == f"proctor:{user_id}"
    assert detail["candidate"]["id_number_masked"].count("*") == 10

    response = csrf_post(
        client,
        f"/api/v1/attempts/{attempt.pk}/actions",
        {"action": "force_submit", "data": {"reason": "cheating"}},
    )
    assert (response.json()["status"], response.json()["status_reason"]) == ("force_submitted", "cheating")


def test_proctor_refusals() -> None:
    session = make_session()
    attempt = start_attempt(make_attempt(session), at_s=600)
    outsider = staff_client("p2", Role.PROCTOR, make_session(starts_at=at(3600)))
    before = snapshot(attempt)
    response = outsider.get(f"/api/v1/attempts/{attempt.pk}")
    assert (response.status_code, response.json()["code"]) == (404, "attempt_not_found")
    response = csrf_post(outsider, f"/api/v1/attempts/{attempt.pk}/actions", {"action": "disqualify"})
    assert (response.status_code, response.json()["code"]) == (404, "attempt_not_found")
    assert outsider.get(f"/api/v1/sessions/{session.pk}/attempts").json() == []

    no_role = staff_client("u3", None)
    assert no_role.get("/api/v1/sessions/").status_code == 403
    assert APIClient().get("/api/v1/sessions/").status_code in (401, 403)

    mine = staff_client("p4", Role.PROCTOR, session)
    response = csrf_post(mine, f"/api/v1/attempts/{attempt.pk}/actions", {"action": "submit"})
    assert (response.status_code, response.json()["code"]) == (403, "action_not_allowed")
    # Without the CSRF token a session-authenticated write is refused.
    response = mine.post(f"/api/v1/attempts/{attempt.pk}/actions", {"action": "disqualify"}, format="json")
    assert (response.status_code, response.json()["code"]) == (403, "forbidden")
    desktop = desktop_client(attempt)
    assert desktop.get(f"/api/v1/attempts/{attempt.pk}").status_code in (401, 403)
    assert snapshot(attempt) == before


def test_chief_proctor_sees_every_session() -> None:
    s1, s2 = make_session(), make_session(starts_at=at(3600))
    chief = staff_client("c1", Role.CHIEF_PROCTOR)
    assert [s["id"] for s in chief.get("/api/v1/sessions/").json()] == [s1.pk, s2.pk]


def test_schema_documents_the_exams_endpoints() -> None:
    schema = APIClient().get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    for path in (
        "/api/v1/attempt",
        "/api/v1/attempt/actions",
        "/api/v1/sessions/",
        "/api/v1/sessions/{session_id}/attempts",
        "/api/v1/attempts/{attempt_id}",
        "/api/v1/attempts/{attempt_id}/actions",
    ):
        assert path in schema["paths"], path
    assert "AttemptStateOut" in schema["components"]["schemas"]
