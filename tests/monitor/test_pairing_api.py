"""Pairing over REST: the desktop's QR token, the phone's claim and every refusal, WebSocket tickets."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from accounts.models import AuthToken, WechatIdentity
from accounts.tokens import token_issue
from monitor.models import PairingToken, PhoneDevice, WsTicket
from tests.monitor import factories as f

pytestmark = [pytest.mark.django_db, pytest.mark.integration]


def post(path: str, token: str, body: dict[str, Any] | None = None) -> Any:
    return Client().post(
        path, body or {}, content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {token}"
    )


def get(path: str, token: str) -> Any:
    return Client().get(path, HTTP_AUTHORIZATION=f"Bearer {token}")


def new_pairing(s: f.Sitting) -> dict[str, Any]:
    response = post("/api/v1/pairing/tokens", s.desktop_token)
    assert response.status_code == 201, response.content
    return response.json()


def token_of(pairing: dict[str, Any]) -> str:
    return pairing["url"].split("?t=", 1)[1]


def test_desktop_gets_a_pairing_qr_and_the_phone_claims_it() -> None:
    s = f.sitting(f.running_session(), 1)
    body = new_pairing(s)
    assert body["url"].startswith("http://127.0.0.1:8000/m/pair?t=")
    assert len(body["confirm_code"]) == 4 and body["confirm_code"].isdigit()
    assert len(body["fallback_code"]) == 8 and not set(body["fallback_code"]) & set("01OIL")
    assert body["ttl_seconds"] == 120
    row = PairingToken.objects.get(pk=body["id"])
    assert token_of(body) not in (row.token_hash, row.fallback_code_hash)  # stored hashed only

    png = get(body["qr_png"], s.desktop_token)
    assert png.status_code == 200 and png["Content-Type"] == "image/png" and png.content[:4] == b"\x89PNG"
    svg = get(body["qr_svg"], s.desktop_token)
    assert svg.status_code == 200 and b"<svg" in svg.content
    assert png["Cache-Control"] == "no-store"

    claim = post("/api/v1/pairing/claim", s.phone_token, {"token": token_of(body)})
    assert claim.status_code == 200, claim.content
    out = claim.json()
    device = PhoneDevice.objects.get()
    assert out["device_id"] == device.pk and out["attempt_id"] == s.attempt.pk
    assert out["confirm_code"] == body["confirm_code"] and out["replaced_previous"] is False
    assert out["ws_url"].endswith(f"/ws/phone/?ticket={out['ws_ticket']}")
    assert device.kind == "miniprogram" and device.wechat_identity_id == s.identity.pk
    row.refresh_from_db()
    assert row.claimed_at is not None and row.device_id == device.pk
    assert WsTicket.objects.get().device_id == device.pk

    status = get("/api/v1/pairing/status", s.desktop_token).json()
    assert status["state"] == "paired" and status["device_id"] == device.pk


def test_typed_fallback_code_claims_too_in_any_case_and_with_a_dash() -> None:
    s = f.sitting(f.running_session(), 1)
    code = new_pairing(s)["fallback_code"]
    typed = f"{code[:4].lower()}-{code[4:]}"
    assert post("/api/v1/pairing/claim", s.phone_token, {"fallback_code": typed}).status_code == 200
    assert PhoneDevice.objects.filter(attempt=s.attempt).count() == 1


def test_wxacode_comes_from_wechat_with_a_short_scene(fake_wechat: Any) -> None:
    s = f.sitting(f.running_session(), 1)
    body = new_pairing(s)
    response = get(body["wxacode_png"], s.desktop_token)
    assert response.status_code == 200, response.content
    assert response.content[:4] == b"\x89PNG"
    assert fake_wechat.app.count("wxa/getwxacodeunlimit") == 1


def refused(s: f.Sitting, body: dict[str, Any], token: str | None = None) -> tuple[int, str]:
    before = (PhoneDevice.objects.count(), PairingToken.objects.filter(claimed_at__isnull=False).count())
    response = post("/api/v1/pairing/claim", token or s.phone_token, body)
    after = (PhoneDevice.objects.count(), PairingToken.objects.filter(claimed_at__isnull=False).count())
    assert after == before  # nothing written on a refusal
    return response.status_code, response.json()["code"]


def test_each_refusal_has_its_own_code_and_changes_nothing() -> None:
    session = f.running_session()
    s, other = f.sitting(session, 1), f.sitting(session, 2)
    pairing = new_pairing(s)
    assert refused(s, {"token": token_of(pairing)}, token=other.phone_token) == (
        403,
        "pairing_wrong_candidate",
    )
    assert refused(s, {"token": "no-such-token-at-all"}) == (404, "pairing_token_unknown")
    assert refused(s, {"fallback_code": "ZZZZ2222"}) == (404, "pairing_token_unknown")

    unbound = WechatIdentity.objects.create(openid="openid-unbound")
    unbound_token = token_issue(kind=AuthToken.Kind.MINIPROGRAM, wechat_identity=unbound).raw
    assert refused(s, {"token": token_of(pairing)}, token=unbound_token) == (403, "not_bound")

    PairingToken.objects.filter(pk=pairing["id"]).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert refused(s, {"token": token_of(pairing)}) == (410, "pairing_token_expired")

    fresh = new_pairing(s)
    assert post("/api/v1/pairing/claim", s.phone_token, {"token": token_of(fresh)}).status_code == 200
    assert refused(s, {"token": token_of(fresh)}) == (409, "pairing_token_used")
    assert refused(s, {"token": "x", "fallback_code": "ABCDEFGH"}) == (400, "invalid")
    assert refused(s, {"token": "x", "device": "iphone"}) == (400, "invalid")
    # The desktop's token cannot claim; the phone's cannot create pairing tokens.
    assert post("/api/v1/pairing/claim", s.desktop_token, {"token": token_of(fresh)}).status_code == 403
    assert post("/api/v1/pairing/tokens", s.phone_token).status_code == 403


def test_refreshing_expires_the_unclaimed_token_and_images_follow_the_live_one() -> None:
    s = f.sitting(f.running_session(), 1)
    first, second = new_pairing(s), new_pairing(s)
    assert refused(s, {"token": token_of(first)}) == (410, "pairing_token_expired")
    assert get(first["qr_png"], s.desktop_token).json()["code"] == "pairing_token_expired"
    assert get(second["qr_png"], s.desktop_token).status_code == 200
    other = f.sitting(s.attempt.session, 2)
    assert get(second["qr_png"], other.desktop_token).json()["code"] == "pairing_token_unknown"


def test_a_new_phone_replaces_the_old_one() -> None:
    s = f.sitting(f.running_session(), 1)
    post("/api/v1/pairing/claim", s.phone_token, {"token": token_of(new_pairing(s))})
    again = post("/api/v1/pairing/claim", s.phone_token, {"token": token_of(new_pairing(s))})
    assert again.json()["replaced_previous"] is True
    old, new = PhoneDevice.objects.order_by("pk")
    assert (old.revoked_at is not None, old.revoke_reason) == (True, "replaced")
    assert new.revoked_at is None


def test_ws_tickets_per_role() -> None:
    session = f.running_session()
    s = f.sitting(session, 1)
    assert post("/api/v1/ws-tickets", s.phone_token, {"role": "phone"}).json()["code"] == "not_paired"
    desktop = post("/api/v1/ws-tickets", s.desktop_token, {"role": "desktop"})
    assert desktop.status_code == 201
    ticket = WsTicket.objects.get()
    assert (ticket.role, ticket.attempt_id, ticket.auth_token_id) == (
        "desktop",
        s.attempt.pk,
        s.desktop_token_id,
    )
    assert ticket.ticket_hash != desktop.json()["ticket"]
    assert (
        post("/api/v1/ws-tickets", s.desktop_token, {"role": "proctor"}).json()["code"]
        == "ticket_role_forbidden"
    )
    assert (
        post("/api/v1/ws-tickets", s.phone_token, {"role": "desktop"}).json()["code"]
        == "ticket_role_forbidden"
    )
    anonymous = Client().post("/api/v1/ws-tickets", {"role": "proctor"}, content_type="application/json")
    assert anonymous.status_code in (401, 403)
    client = Client(enforce_csrf_checks=False)
    client.force_login(f.proctor(session))
    response = client.post("/api/v1/ws-tickets", {"role": "proctor"}, content_type="application/json")
    assert response.status_code == 201 and response.json()["url"].startswith(
        "ws://testserver/ws/proctor/?ticket="
    )
    assert WsTicket.objects.filter(role="proctor").count() == 1
