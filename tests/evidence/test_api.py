"""Admin REST endpoints for exports: permission, validation with stable codes, job, link."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission
from django.test import Client

from accounts.models import AccountAuditEntry, User
from media_pipeline.evidence.models import ExportJob
from tests.evidence import factories

pytestmark = pytest.mark.django_db(transaction=True)


def _staff(*perms: str) -> Client:
    user = User.objects.create_user("admin1", password="pw-Secret-123", is_staff=True)
    user.user_permissions.add(
        *Permission.objects.filter(content_type__app_label="evidence", codename__in=perms)
    )
    client = Client()
    client.force_login(user)
    return client


def test_export_create_detail_and_link() -> None:
    exam = factories.session()
    factories.attempt(exam_session=exam, snapshots=1)
    client = _staff("add_exportjob", "view_exportjob")
    created = client.post(
        "/api/v1/evidence/exports/", {"session_id": exam.pk}, content_type="application/json"
    )
    assert created.status_code == 202
    job_id = created.json()["id"]
    detail = client.get(f"/api/v1/evidence/exports/{job_id}/").json()
    assert (detail["status"], detail["progress"], detail["scope"]) == ("done", 100, "session")
    link = client.post(f"/api/v1/evidence/exports/{job_id}/link/").json()
    assert (
        link["url"].startswith("http://127.0.0.1:8000/api/v1/evidence/exports/") and "token=" in link["url"]
    )
    assert (
        AccountAuditEntry.objects.filter(action="evidence.export_link", actor__startswith="user:").count()
        == 1
    )


def test_refusals_have_stable_codes_and_write_nothing() -> None:
    exam = factories.session()
    reader = _staff("view_exportjob")
    refused = reader.post(
        "/api/v1/evidence/exports/", {"session_id": exam.pk}, content_type="application/json"
    )
    assert refused.status_code == 403 and refused.json()["code"] == "forbidden"
    User.objects.filter(username="admin1").delete()
    writer = _staff("add_exportjob", "view_exportjob")
    both = writer.post(
        "/api/v1/evidence/exports/", {"session_id": exam.pk, "attempt_id": 1}, content_type="application/json"
    )
    assert both.status_code == 400 and both.json()["code"] == "export_scope_invalid"
    bad = writer.post("/api/v1/evidence/exports/", {"session_id": "x"}, content_type="application/json")
    assert bad.status_code == 400 and bad.json()["code"] == "invalid"
    missing = writer.post(
        "/api/v1/evidence/exports/", {"session_id": 999999}, content_type="application/json"
    )
    assert missing.status_code == 404 and missing.json()["code"] == "session_not_found"
    assert writer.get("/api/v1/evidence/exports/424242/").json()["code"] == "export_not_found"
    assert writer.post("/api/v1/evidence/exports/424242/link/").json()["code"] == "export_not_found"
    assert ExportJob.objects.count() == 0
    assert Client().get("/api/v1/evidence/exports/1/").status_code in (401, 403)


def test_schema_lists_the_evidence_endpoints() -> None:
    schema = Client().get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    assert {"/api/v1/evidence/exports/", "/api/v1/evidence/exports/{job_id}/link/"} <= set(schema["paths"])
