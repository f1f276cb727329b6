"""Roles (groups + permissions), who sees which attempt, and the admin pages (import, unbind)."""

from __future__ import annotations

import io
from typing import Any

import pytest
from django.contrib.auth.models import Group
from django.test import Client

from accounts import roles
from accounts.models import AccountAuditEntry, Candidate, User, WechatIdentity
from exams.models import Attempt
from tests.accounts.factories import candidate, id_number, register, session, ticket

pytestmark = pytest.mark.django_db


def user(name: str, role: str | None = None, **kwargs: Any) -> User:
    u = User.objects.create_user(name, password="pw-" + name + "-123", **kwargs)
    if role:
        roles.role_assign(user=u, role=role)
    return User.objects.get(pk=u.pk)  # fresh: no cached role names


def test_groups_exist_after_migrate_and_ensure_is_idempotent() -> None:
    names = set(Group.objects.values_list("name", flat=True))
    assert {"candidate", "proctor", "chief_proctor", "exam_admin"} <= names
    before = {g.name: sorted(g.permissions.values_list("codename", flat=True)) for g in Group.objects.all()}
    roles.ensure_groups()
    after = {g.name: sorted(g.permissions.values_list("codename", flat=True)) for g in Group.objects.all()}
    assert before == after
    assert "view_attempt" in after["proctor"] and "add_candidate" not in after["proctor"]
    assert "add_candidate" in after["exam_admin"]


def test_role_helpers() -> None:
    proctor, chief, admin = user("p", "proctor"), user("c", "chief_proctor"), user("a", "exam_admin")
    nobody, superuser = user("n"), User.objects.create_superuser("s", password="pw-s-12345")
    assert [roles.is_proctor(u) for u in (proctor, chief, admin, nobody, superuser)] == [
        True,
        True,
        True,
        False,
        True,
    ]
    assert [roles.is_chief(u) for u in (proctor, chief, admin, nobody)] == [False, True, True, False]
    assert [roles.is_exam_admin(u) for u in (proctor, chief, admin, nobody)] == [False, False, True, False]


def test_can_see_attempt_by_session_assignment_or_attempt_proctor() -> None:
    by_session, by_attempt, other, chief = (
        user("p1", "proctor"),
        user("p2", "proctor"),
        user("p3", "proctor"),
        user("c", "chief_proctor"),
    )
    s = session()
    s.proctors.add(by_session)
    attempt = register(candidate(1), s)
    Attempt.objects.filter(pk=attempt.pk).update(proctor=by_attempt)
    attempt.refresh_from_db()
    assert [roles.can_see_attempt(u, attempt) for u in (by_session, by_attempt, other, chief)] == [
        True,
        True,
        False,
        True,
    ]
    assert roles.can_see_attempt(user("n"), attempt) is False


def admin_client(role: str = "exam_admin") -> Client:
    client = Client()
    client.force_login(user("staff-" + role, role, is_staff=True))
    return client


def test_admin_import_page_dry_run_then_import() -> None:
    s = session()
    csv_text = "准考证号,身份证号,姓名,场次ID\n" + "\n".join(
        [f"{ticket(1)},{id_number(1)},张三,{s.pk}", f"{ticket(2)},{id_number(2)[:-1]}0,李四,{s.pk}"]
    )
    client = admin_client()
    page = client.get("/admin/accounts/candidate/import/")
    assert page.status_code == 200
    upload = io.BytesIO(csv_text.encode())
    upload.name = "list.csv"
    dry = client.post("/admin/accounts/candidate/import/", {"file": upload, "dry_run": "on"})
    assert dry.status_code == 200
    assert dry.context["report"].candidates_created == 1 and Candidate.objects.count() == 0
    upload = io.BytesIO(csv_text.encode())
    upload.name = "list.csv"
    done = client.post("/admin/accounts/candidate/import/", {"file": upload})
    html = done.content.decode()
    assert [(e.row, e.column) for e in done.context["report"].errors] == [(3, "id_number")]
    assert id_number(2)[:-1] not in html
    assert list(Candidate.objects.values_list("ticket_number", flat=True)) == [ticket(1)]


def test_admin_import_page_needs_an_admin() -> None:
    client = admin_client("proctor")
    response = client.get("/admin/accounts/candidate/import/")
    assert response.status_code == 302


def test_admin_unbind_action_is_audited() -> None:
    c = candidate(1)
    WechatIdentity.objects.create(openid="o-1", candidate=c)
    client = admin_client()
    response = client.post(
        "/admin/accounts/candidate/", {"action": "unbind_wechat", "_selected_action": [c.pk]}, follow=True
    )
    assert response.status_code == 200
    assert WechatIdentity.objects.get().candidate_id is None
    entry = AccountAuditEntry.objects.get(action="candidate_unbound")
    assert entry.actor_user is not None and entry.actor_user.username == "staff-exam_admin"


def test_candidate_admin_never_shows_the_id_number() -> None:
    c = candidate(1)
    client = admin_client()
    for url in ("/admin/accounts/candidate/", f"/admin/accounts/candidate/{c.pk}/change/"):
        html = client.get(url).content.decode()
        assert c.id_number_masked in html
        assert id_number(1) not in html and c.id_number_hash not in html
