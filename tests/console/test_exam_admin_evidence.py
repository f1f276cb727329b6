"""An exam admin (staff, not superuser) gets the evidence pages through the exam_admin group's
permissions (accounts.roles); a proctor does not."""

from __future__ import annotations

import pytest
from django.test import Client

from accounts.models import Role, User
from accounts.roles import role_assign
from media_pipeline.evidence.models import PurgeRecord
from media_pipeline.models import Snapshot
from tests.evidence import factories

pytestmark = pytest.mark.django_db

PAGES = (
    "/admin/evidence/exportjob/",
    "/admin/evidence/sessionevidence/",
    "/admin/evidence/attemptevidence/",
    "/admin/evidence/candidateprivacy/",
    "/admin/evidence/purgerecord/",
    "/admin/evidence/monitoringconsent/",
)


def staff(username: str, role: str) -> Client:
    user = User.objects.create_user(username=username, password="pw-Staff-123", is_staff=True)
    role_assign(user=user, role=role)
    client = Client()
    client.force_login(user)
    return client


def test_exam_admin_sees_the_evidence_pages_and_may_run_the_purge() -> None:
    client = staff("organiser", Role.EXAM_ADMIN)
    assert not User.objects.get(username="organiser").is_superuser
    item = factories.attempt(exam_session=factories.session(ends_days_ago=400), snapshots=1)
    for url in PAGES:
        assert client.get(url).status_code == 200, url
    detail = client.get(f"/admin/evidence/candidateprivacy/{item.attempt.candidate_id}/change/")
    assert detail.status_code == 200
    assert item.id_number not in detail.content.decode()
    response = client.post("/admin/evidence/purgerecord/run/", {"dry_run": "1"})
    assert response.status_code == 302
    assert PurgeRecord.objects.get().attempt_ids == [item.attempt.pk]
    assert Snapshot.objects.filter(attempt=item.attempt).count() == 1  # a dry run deletes nothing


def test_a_proctor_gets_none_of_them() -> None:
    client = staff("watcher", Role.PROCTOR)
    item = factories.attempt(exam_session=factories.session(ends_days_ago=400), snapshots=1)
    for url in PAGES:
        assert client.get(url).status_code == 403, url
    client.post("/admin/evidence/purgerecord/run/", {"dry_run": "0"})
    assert PurgeRecord.objects.count() == 0
    assert Snapshot.objects.filter(attempt=item.attempt).count() == 1
