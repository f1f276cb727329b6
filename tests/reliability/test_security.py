"""Deployment checks and privacy of the logs.

- ``manage.py check --deploy --fail-level WARNING`` is clean in the production profile, with every
  secret coming from the environment (the helper strips the test run's own variables first).
- Every log line of a full flow — the test process's root logger, the daphne server (with its access
  log on, where query strings would leak) and, in production, the Celery worker — is free of ID
  numbers, tokens, WebSocket tickets, pairing tokens, the WeChat session_key, export links and
  presigned S3 URLs.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from django.contrib.auth.models import Permission
from django.test import Client

from accounts import id_numbers
from accounts.models import User, WechatIdentity
from monitor import protocol as p
from tests import services
from tests.accounts.factories import candidate, id_number, register, session, ticket
from tests.conftest import is_production_profile
from tests.monitor.test_realtime import jpeg
from tests.monitor.wsclient import WS
from tests.test_foundation import FULL_PRODUCTION_ENV, _run_check


def test_check_deploy_is_clean_in_the_production_profile() -> None:
    env = {
        **FULL_PRODUCTION_ENV,
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),  # the real thing: long and random
        "PUBLIC_BASE_URL": "https://exam.example.com",
    }
    result = _run_check(env, "--deploy", "--fail-level", "WARNING")
    assert result.returncode == 0, result.stderr + result.stdout
    assert "System check identified no issues (0 silenced)." in result.stdout


def test_check_deploy_refuses_a_weak_secret_key() -> None:
    result = _run_check(
        {**FULL_PRODUCTION_ENV, "DJANGO_SECRET_KEY": "x" * 60}, "--deploy", "--fail-level", "WARNING"
    )
    assert result.returncode != 0
    assert "security.W009" in result.stderr


@pytest.fixture
def logged_server(server_env: dict[str, str], tmp_path: Path) -> Iterator[services.Process]:
    """daphne through ``config.serve`` (daphne with a redacting access log) at its default verbosity,
    so the access log is on: request lines are where query-string tokens would leak."""
    proc = services.start_daphne(server_env, log_dir=tmp_path)
    yield proc
    proc.stop()


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_no_secret_reaches_any_log_during_the_full_flow(
    fake_wechat: Any,
    logged_server: services.Process,
    request: pytest.FixtureRequest,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    worker = request.getfixturevalue("celery_worker_process") if is_production_profile() else None
    base = logged_server.extra["url"]
    api = base + "/api/v1"
    exam = session()
    register(candidate(1), exam)
    secrets_seen: dict[str, str] = {"id_number": id_number(1), "wrong_id_number": id_number(2)}

    def call(method: str, path: str, token: str | None = None, **kwargs: Any) -> requests.Response:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return requests.request(method, api + path, headers=headers, timeout=20, **kwargs)

    # Mini-program login and binding (one wrong attempt first: failures are logged too).
    login = call("POST", "/auth/wechat-login", json={"code": fake_wechat.app.mint_code("privacy")}).json()
    secrets_seen["miniprogram_token"] = login["token"]
    assert (
        call(
            "POST", "/auth/bind", login["token"], json={"ticket_number": ticket(1), "id_number": id_number(2)}
        ).status_code
        >= 400
    )
    bound = call(
        "POST", "/auth/bind", login["token"], json={"ticket_number": ticket(1), "id_number": id_number(1)}
    )
    assert bound.status_code == 200, bound.text
    identity = WechatIdentity.objects.get()
    secrets_seen["session_key"] = id_numbers.decrypt_secret(identity.session_key_encrypted)
    # Desktop login, pairing by QR token, WebSocket tickets, a phone streaming two snapshots.
    desktop = call(
        "POST", "/auth/desktop-login", json={"ticket_number": ticket(1), "id_number": id_number(1)}
    )
    assert desktop.status_code == 200, desktop.text
    secrets_seen["desktop_token"] = desktop.json()["token"]
    pairing = call("POST", "/pairing/tokens", secrets_seen["desktop_token"]).json()
    secrets_seen["pairing_token"] = pairing["url"].split("?t=")[1]
    page = requests.get(pairing["url"].replace("http://127.0.0.1:8000", base), timeout=20)  # phone browser
    assert page.status_code == 200
    claim = call(
        "POST", "/pairing/claim", login["token"], json={"token": secrets_seen["pairing_token"]}
    ).json()
    secrets_seen["phone_ticket"] = claim["ws_url"].split("ticket=")[1]
    desk_ticket = call("POST", "/ws-tickets", secrets_seen["desktop_token"], json={"role": "desktop"}).json()
    secrets_seen["desktop_ticket"] = desk_ticket["ticket"]
    desk = WS(f"{base.replace('http', 'ws')}/ws/desktop/?ticket={desk_ticket['ticket']}", origin=base)
    desk.send({"type": "hello", "version": 1})
    desk.until("hello_ok")
    phone = WS(claim["ws_url"])
    phone.send({"type": "hello", "version": 1, "device": {"platform": "android"}})
    phone.until("hello_ok")
    for seq in (1, 2):
        phone.send(p.build_snapshot_frame(seq=seq, data=jpeg(seq)))
        phone.until("ack", seq=seq)
    replay = WS(claim["ws_url"], keepalive=None)  # a replayed ticket is refused (and logged)
    assert replay.until("error")["code"] == "ticket_used"
    phone.close()
    desk.close()

    # An administrator exports the session and makes a download link; the link is used once.
    admin = User.objects.create_user("admin-privacy", password="pw-Secret-123", is_staff=True)
    admin.user_permissions.add(
        *Permission.objects.filter(
            content_type__app_label="evidence", codename__in=["add_exportjob", "view_exportjob"]
        )
    )
    staff = Client()
    staff.force_login(admin)
    job = staff.post(
        "/api/v1/evidence/exports/", {"session_id": exam.pk}, content_type="application/json"
    ).json()
    for _ in range(200):
        if staff.get(f"/api/v1/evidence/exports/{job['id']}/").json()["status"] == "done":
            break
        import time

        time.sleep(0.1)
    link = staff.post(f"/api/v1/evidence/exports/{job['id']}/link/").json()["url"]
    served_by_us = "X-Amz-Signature=" not in link
    if served_by_us:  # local files: a signed link to our own download view
        secrets_seen["export_link_token"] = link.split("token=")[1].split("&")[0]
        download = requests.get(link.replace("http://127.0.0.1:8000", base), timeout=30)
    else:  # production: a presigned S3 URL, fetched from S3 itself
        secrets_seen["presigned_signature"] = link.split("X-Amz-Signature=")[1].split("&")[0]
        download = requests.get(link, timeout=30)
    assert download.status_code == 200, download.text[:200]
    assert download.content[:2] == b"PK"  # the bundle (a ZIP)

    logged_server.stop()
    if worker is not None:
        worker.stop()
    logs = {"test process": caplog.text, "daphne": logged_server.log_path.read_text(errors="replace")}
    if worker is not None:
        logs["celery worker"] = worker.log_path.read_text(errors="replace")
    assert '"GET /m/pair?t=[redacted]" 200' in logs["daphne"]  # the access log is on, and redacted
    if served_by_us:
        assert f"/api/v1/evidence/exports/{job['id']}/download/?token=[redacted]" in logs["daphne"]
    assert "Bad Request: /api/v1/auth/bind" in logs["daphne"]  # Django's request log is captured too
    leaks = [
        f"{what} in the {source} log"
        for what, value in secrets_seen.items()
        for source, text in logs.items()
        if value and value in text
    ]
    assert leaks == []
