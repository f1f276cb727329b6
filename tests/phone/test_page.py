"""The phone-browser page and its endpoints (Django test client; the browser test drives the real page)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.core.cache import cache
from django.test import Client

from exams.models import Attempt, AttemptEvent
from media_pipeline.evidence.models import MonitoringConsent
from monitor import services as monitor_services
from monitor.models import PairingToken, PhoneDevice, WsTicket
from monitor.phone.texts import NOTICE_VERSION, monitoring_notice
from tests.accounts import factories

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_throttles() -> None:
    cache.clear()  # the claim endpoint is rate limited per IP; every test starts with a full allowance


@pytest.fixture
def attempt() -> Attempt:
    session = factories.session()
    session.snapshot_interval_s = 7
    session.retention_days = 30
    session.save()
    return factories.register(factories.candidate(1), session)


@pytest.fixture
def issued(attempt: Attempt) -> monitor_services.IssuedPairing:
    return monitor_services.pairing_token_create(attempt_id=attempt.pk)


class Page:
    """A phone browser: CSRF enforced like a real one, cookie jar kept between calls."""

    def __init__(self) -> None:
        self.client = Client(enforce_csrf_checks=True)
        response = self.client.get("/m/pair?t=ignored")
        assert response.status_code == 200
        self.csrf = response.cookies["csrftoken"].value

    def post(self, url: str, body: dict[str, Any] | None = None, *, csrf: bool = True) -> Any:
        headers = {"X-CSRFToken": self.csrf} if csrf else {}
        return self.client.post(
            url, data=json.dumps(body or {}), content_type="application/json", headers=headers
        )

    def claim(self, issued: monitor_services.IssuedPairing, confirm: str | None = None) -> Any:
        return self.post(
            "/m/api/claim", {"token": issued.token, "confirm_code": confirm or issued.pairing.confirm_code}
        )


def test_page_is_chinese_first_with_english_and_keeps_the_token_private(issued: Any) -> None:
    client = Client()
    response = client.get(f"/m/pair?t={issued.token}")
    body = response.content.decode()
    assert response.status_code == 200
    assert '<html lang="zh-Hans">' in body
    assert '<meta name="referrer" content="no-referrer">' in body
    assert "/static/phone/phone.js" in body
    config = json.loads(
        body.split('<script id="phone-config" type="application/json">')[1].split("</script>")[0]
    )
    assert config["lang"] == "zh"
    assert config["ui"]["status_monitoring"] == {"zh": "监控中", "en": "Monitoring"}
    assert config["protocol_version"] == 1
    assert issued.token not in body  # the script reads it from the address bar, the HTML never echoes it
    assert client.get("/m/pair?lang=en").content.decode().startswith('<!doctype html>\n<html lang="en">')


def test_pairing_with_the_confirm_code_binds_a_browser_device(attempt: Attempt, issued: Any) -> None:
    page = Page()
    response = page.claim(issued)
    assert response.status_code == 200, response.content
    data = response.json()
    device = PhoneDevice.objects.get()
    assert device.kind == PhoneDevice.Kind.BROWSER
    assert device.attempt_id == attempt.pk
    assert data["device_id"] == device.pk
    assert data["attempt_id"] == attempt.pk
    assert data["snapshot_interval_s"] == 7
    assert data["consented"] is False
    assert data["notice"]["version"] == NOTICE_VERSION
    assert data["notice"] == json.loads(
        json.dumps(monitoring_notice(snapshot_interval_s=7, retention_days=30).as_json())
    )
    assert "每 7 秒" in data["notice"]["items"][1]["zh"]
    assert "保存 30 天" in data["notice"]["items"][3]["zh"]
    assert page.client.session["phone_device_id"] == device.pk
    assert PairingToken.objects.get().claimed_at is not None
    # A reload finds the pairing again through the session.
    state = page.client.get("/m/api/state")
    assert state.status_code == 200
    assert state.json() == {"paired": True, **data}
    assert Page().client.get("/m/api/state").json() == {"paired": False}


def _wrong(code: str) -> str:
    return f"{(int(code) + 1) % 10000:04d}"


@pytest.mark.parametrize(
    ("change", "status", "code"),
    [
        (lambda body, issued: body.update(confirm_code="WRONG"), 400, "invalid"),
        (lambda body, issued: body.pop("token"), 400, "invalid"),
        (lambda body, issued: body.update(extra="x"), 400, "invalid"),
        (lambda body, issued: body.update(token="unknown-token-value"), 404, "pairing_token_unknown"),
        (
            lambda body, issued: body.update(confirm_code=_wrong(issued.pairing.confirm_code)),
            403,
            "pairing_confirm_mismatch",
        ),
    ],
    ids=["confirm-not-digits", "no-token", "unknown-field", "unknown-token", "wrong-confirm-code"],
)
def test_refused_claims_write_nothing(issued: Any, change: Any, status: int, code: str) -> None:
    page = Page()
    body = {"token": issued.token, "confirm_code": issued.pairing.confirm_code}
    change(body, issued)
    response = page.post("/m/api/claim", body)
    assert response.status_code == status, response.content
    assert response.json()["code"] == code
    assert PhoneDevice.objects.count() == 0
    assert PairingToken.objects.get().claimed_at is None
    assert "phone_device_id" not in page.client.session


def test_claim_without_the_csrf_token_is_refused(issued: Any) -> None:
    page = Page()
    response = page.post(
        "/m/api/claim", {"token": issued.token, "confirm_code": issued.pairing.confirm_code}, csrf=False
    )
    assert response.status_code == 403
    assert response.json()["code"] == "csrf_failed"
    assert PhoneDevice.objects.count() == 0


def test_consent_then_ticket(attempt: Attempt, issued: Any) -> None:
    page = Page()
    device_id = page.claim(issued).json()["device_id"]

    refused = page.post("/m/api/ticket")
    assert (refused.status_code, refused.json()["code"]) == (409, "consent_required")
    assert WsTicket.objects.count() == 0

    outdated = page.post("/m/api/consent", {"notice_version": "old", "accepted": True})
    assert (outdated.status_code, outdated.json()["code"]) == (409, "notice_outdated")
    declined = page.post("/m/api/consent", {"notice_version": NOTICE_VERSION, "accepted": False})
    assert (declined.status_code, declined.json()["code"]) == (400, "invalid")
    attempt.refresh_from_db()
    assert attempt.monitoring_consent_at is None
    assert not AttemptEvent.objects.filter(attempt=attempt, kind="consent").exists()
    assert not MonitoringConsent.objects.exists()

    accepted = page.post("/m/api/consent", {"notice_version": NOTICE_VERSION, "accepted": True})
    assert accepted.status_code == 200
    assert accepted.json()["consented"] is True
    attempt.refresh_from_db()
    assert attempt.monitoring_consent_at is not None
    events = list(
        AttemptEvent.objects.filter(attempt=attempt, kind="consent").values_list("actor", flat=True)
    )
    assert events == ["phone"]
    consents = list(
        MonitoringConsent.objects.filter(attempt=attempt).values_list("notice_version", "accepted_at")
    )
    assert consents == [(NOTICE_VERSION, attempt.monitoring_consent_at)]
    assert (
        page.post("/m/api/consent", {"notice_version": NOTICE_VERSION, "accepted": True}).status_code == 200
    )
    assert AttemptEvent.objects.filter(attempt=attempt, kind="consent").count() == 1  # a repeat is a no-op
    assert MonitoringConsent.objects.filter(attempt=attempt).count() == 1

    issued_ticket = page.post("/m/api/ticket")
    assert issued_ticket.status_code == 200
    body = issued_ticket.json()
    assert body["ws_path"] == "/ws/phone/"
    ticket = monitor_services.ws_ticket_consume(raw=body["ticket"], role="phone")
    assert (ticket.device_id, ticket.attempt_id, ticket.auth_token_id) == (device_id, attempt.pk, None)


def test_ticket_needs_a_paired_browser_and_stops_when_replaced(attempt: Attempt, issued: Any) -> None:
    stranger = Page()
    response = stranger.post("/m/api/ticket")
    assert (response.status_code, response.json()["code"]) == (409, "browser_not_paired")

    page = Page()
    page.claim(issued)
    page.post("/m/api/consent", {"notice_version": NOTICE_VERSION, "accepted": True})
    second = monitor_services.pairing_token_create(attempt_id=attempt.pk)
    other = Page()
    assert other.claim(second).status_code == 200  # another phone takes over

    response = page.post("/m/api/ticket")
    assert (response.status_code, response.json()["code"]) == (409, "device_revoked")
    assert WsTicket.objects.count() == 0
    assert other.post("/m/api/ticket").status_code == 200


def test_page_endpoints_are_in_the_openapi_schema() -> None:
    schema = Client().get("/api/schema/?format=json").json()
    assert {"/m/api/claim", "/m/api/consent", "/m/api/ticket", "/m/api/state"} <= set(schema["paths"])


def test_pairing_with_ticket_and_id_number_instead_of_the_confirm_code(attempt: Attempt, issued: Any) -> None:
    page = Page()
    body = {"token": issued.token, "ticket_number": factories.ticket(1), "id_number": factories.id_number(1)}
    response = page.post("/m/api/claim", body)
    assert response.status_code == 200, response.content
    device = PhoneDevice.objects.get()
    assert (device.kind, device.attempt_id, response.json()["device_id"]) == (
        "browser",
        attempt.pk,
        device.pk,
    )
    assert page.client.session["phone_device_id"] == device.pk


@pytest.mark.parametrize(
    ("identity", "status", "code"),
    [
        ({"ticket_number": "13800000001", "id_number": "not-an-id"}, 403, "identity_mismatch"),
        ({"ticket_number": "13800000099", "id_number": "ID1"}, 403, "identity_mismatch"),
        ({"ticket_number": "13800000002", "id_number": "ID2"}, 403, "pairing_wrong_candidate"),
        ({"ticket_number": "13800000001"}, 400, "invalid"),
        ({"ticket_number": "13800000001", "id_number": "ID1", "confirm_code": "CODE"}, 400, "invalid"),
    ],
    ids=["malformed-id", "wrong-ticket", "another-candidate", "ticket-only", "both-proofs"],
)
def test_refused_identity_claims_write_nothing(
    issued: Any, identity: dict[str, str], status: int, code: str
) -> None:
    factories.candidate(2, name="王五")  # exists, but registered for nothing
    real = {"ID1": factories.id_number(1), "ID2": factories.id_number(2), "CODE": issued.pairing.confirm_code}
    body = {"token": issued.token, **{k: real.get(v, v) for k, v in identity.items()}}
    response = Page().post("/m/api/claim", body)
    assert response.status_code == status, response.content
    assert response.json()["code"] == code
    assert PhoneDevice.objects.count() == 0
    assert PairingToken.objects.get().claimed_at is None


def test_guessing_is_rate_limited_per_ip(issued: Any) -> None:
    page = Page()
    wrong = {"token": issued.token, "confirm_code": _wrong(issued.pairing.confirm_code)}
    codes = [page.post("/m/api/claim", wrong).json()["code"] for _ in range(21)]
    assert codes == ["pairing_confirm_mismatch"] * 20 + ["throttled"]
    right = {"token": issued.token, "confirm_code": issued.pairing.confirm_code}
    assert page.post("/m/api/claim", right).status_code == 429  # even the right code waits now
    assert PhoneDevice.objects.count() == 0
