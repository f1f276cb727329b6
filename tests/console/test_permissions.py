"""Who sees what in the console: proctors only their sessions, chiefs everything, nobody else."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from accounts.models import Role
from accounts.tokens import token_issue
from monitor.console.models import ProctorActionAudit
from tests.console import factories as f

pytestmark = pytest.mark.django_db


@pytest.fixture
def world():
    alice = f.staff("alice")
    bob = f.staff("bob")
    chief = f.staff("chief", Role.CHIEF_PROCTOR)
    s1, a1 = f.session_with_candidates(3, proctors=[alice])
    s2, a2 = f.session_with_candidates(2, proctors=[bob], start_index=10, code="carbon-trade")
    return {"alice": alice, "bob": bob, "chief": chief, "s1": s1, "a1": a1, "s2": s2, "a2": a2}


def login(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_anonymous_is_sent_to_the_login_page():
    response = Client().get("/console/sessions/")
    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/?next=/console/sessions/"


def test_login_page_renders_in_chinese_and_logs_in(world):
    client = Client()
    page = client.get("/accounts/login/")
    assert page.status_code == 200
    assert "监考员登录" in page.content.decode()
    response = client.post("/accounts/login/", {"username": "alice", "password": f.PASSWORD})
    assert response.status_code == 302
    assert response["Location"] == "/console/sessions/"


def test_proctor_lists_only_assigned_sessions(world):
    page = login(world["alice"]).get("/console/sessions/")
    assert page.status_code == 200
    ids = [s.pk for s in page.context["sessions"]]
    assert ids == [world["s1"].pk]


def test_chief_lists_every_session(world):
    page = login(world["chief"]).get("/console/sessions/")
    assert sorted(s.pk for s in page.context["sessions"]) == sorted([world["s1"].pk, world["s2"].pk])


def test_proctor_cannot_open_another_sessions_grid_or_candidate(world):
    client = login(world["alice"])
    grid = client.get(reverse("console:grid", args=[world["s2"].pk]))
    assert grid.status_code == 403
    assert grid.context["error"].code == "console_forbidden"
    attempt = client.get(reverse("console:attempt", args=[world["a2"][0].pk]))
    assert attempt.status_code == 403
    # The refusal of an unknown id looks the same (ids cannot be probed).
    assert client.get(reverse("console:attempt", args=[999999])).status_code == 403


def test_proctor_grid_shows_the_sessions_candidates(world):
    page = login(world["alice"]).get(reverse("console:grid", args=[world["s1"].pk]))
    assert page.status_code == 200
    assert [t.attempt_id for t in page.context["tiles"]] == [a.pk for a in world["a1"]]
    assert page.context["tiles"][0].ticket_masked == "138****0001"


def test_chief_opens_any_candidate(world):
    page = login(world["chief"]).get(reverse("console:attempt", args=[world["a2"][1].pk]))
    assert page.status_code == 200
    assert page.context["candidate"].pk == world["a2"][1].candidate_id


def test_a_user_without_a_proctor_role_is_refused(world):
    from accounts.models import User

    plain = User.objects.create_user(username="plain", password="x")
    page = login(plain).get("/console/sessions/")
    assert page.status_code == 403
    assert page.context["error"].code == "console_forbidden"


def test_a_candidates_bearer_token_is_not_a_console_login(world):
    candidate = world["a1"][0].candidate
    issued = token_issue(kind="desktop", candidate=candidate, attempt_id=world["a1"][0].pk)
    headers = {"Authorization": f"Bearer {issued.raw}"}
    page = Client().get("/console/sessions/", headers=headers)
    assert page.status_code == 302
    assert page["Location"].startswith("/accounts/login/")
    ticket = Client().post("/console/ws-ticket/", content_type="application/json", data={}, headers=headers)
    assert ticket.status_code == 401
    assert ticket.json()["code"] == "not_authenticated"


def test_ws_ticket_is_fetched_by_post_not_rendered_into_the_page(world):
    client = login(world["alice"])
    page = client.get(reverse("console:grid", args=[world["s1"].pk])).content.decode()
    assert "ticket=" not in page
    response = client.post("/console/ws-ticket/", content_type="application/json", data={})
    body = response.json()
    assert response.status_code == 200
    assert body["path"] == "/ws/proctor/"
    assert len(body["ticket"]) >= 24
    assert body["ticket"] not in page
    assert response["Cache-Control"] == "no-store"


def test_views_are_audited(world):
    client = login(world["alice"])
    attempt = world["a1"][0]
    client.get(reverse("console:attempt", args=[attempt.pk]))
    row = ProctorActionAudit.objects.get(action="view_attempt")
    assert (row.actor_id, row.attempt_id, row.session_id, row.ok) == (
        world["alice"].pk,
        attempt.pk,
        world["s1"].pk,
        True,
    )


def test_chinese_by_default_and_english_through_the_language_switcher(world):
    client = login(world["alice"])
    grid_url = reverse("console:grid", args=[world["s1"].pk])
    chinese = client.get(grid_url).content.decode()
    assert "我的考试场次" in chinese and "告警" in chinese
    switched = client.post("/i18n/setlang/", {"language": "en", "next": grid_url})
    assert switched.status_code == 302
    english = client.get(grid_url).content.decode()
    assert "My exam sessions" in english
    assert "Alerts" in english
    assert "3 candidates" in english


def test_the_timeline_names_the_proctor_and_labels_the_others_in_the_page_language() -> None:
    from django.contrib.auth import get_user_model

    from exams import clock
    from exams.services import Actor
    from tests.exams.helpers import act, make_attempt, start_attempt

    chief = f.staff("chief-w", Role.CHIEF_PROCTOR)
    warner = get_user_model().objects.create_user(username="wang", first_name="伟", last_name="王")
    try:
        attempt = start_attempt(make_attempt())
        act(attempt, "warn", actor=Actor.proctor(warner.pk), data={"category": "appearance"})
    finally:
        clock.unfreeze()
    client = login(chief)

    timeline = client.get(reverse("console:timeline", args=[attempt.pk])).json()["timeline"]

    actors = {e["kind"]: e["actor"] for e in timeline if e["source"] == "event"}
    assert actors["warn"] == warner.get_full_name()  # not "proctor:<id>"
    assert actors["check_in"] == "candidate"  # labelled by the page's JavaScript:
    chinese = {"system": "系统", "candidate": "考生", "phone": "手机"}
    assert page_labels(client, attempt.pk)["actor"] == chinese
    client.post("/i18n/setlang/", {"language": "en"})
    english = {"system": "system", "candidate": "candidate", "phone": "phone"}
    assert page_labels(client, attempt.pk)["actor"] == english


def page_labels(client: Client, attempt_id: int) -> dict:
    """The labels the console's JavaScript reads (json_script id="console-labels")."""
    import json
    import re

    page = client.get(reverse("console:attempt", args=[attempt_id])).content.decode()
    found = re.search(r'<script id="console-labels" type="application/json">(.*?)</script>', page, re.S)
    assert found is not None
    return json.loads(found.group(1))
