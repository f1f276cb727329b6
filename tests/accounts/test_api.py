"""The accounts REST API end to end (DRF test client → services → wechatpy → fake WeChat server)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from django.core.cache import cache
from django.utils import timezone
from rest_framework.test import APIClient

from accounts import id_numbers, roles
from accounts.fake_wechat import openid_for
from accounts.models import AccountAuditEntry, AuthToken, BindingFailure, User, WechatIdentity
from accounts.services import candidate_unbind
from accounts.signals import tokens_revoked
from exams.models import Attempt
from tests.accounts.factories import candidate, id_number, register, session, ticket

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _clear_cache() -> Iterator[None]:
    cache.clear()  # throttles and used login codes live in the cache
    yield
    cache.clear()


def login(client: APIClient, fake_wechat: Any, user: str = "alice") -> dict[str, Any]:
    response = client.post(
        "/api/v1/auth/wechat-login", {"code": fake_wechat.app.mint_code(user)}, format="json"
    )
    assert response.status_code == 200, response.content
    return response.json()


def authed(token: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client


# --- WeChat login --------------------------------------------------------------------------------


def test_wechat_login_issues_our_token_and_keeps_session_key_encrypted(
    fake_wechat: Any, settings: Any
) -> None:
    body = login(APIClient(), fake_wechat)
    assert set(body) == {"token", "expires_at", "me"}
    assert body["me"]["bound"] is False and body["me"]["candidate"] is None
    identity = WechatIdentity.objects.get()
    assert identity.openid == openid_for(settings.WECHAT_APP_ID, "alice")
    session_key = id_numbers.decrypt_secret(identity.session_key_encrypted)
    assert len(session_key) == 24 and session_key not in str(body)
    assert authed(body["token"]).get("/api/v1/me").json()["token_kind"] == "miniprogram"


def test_reused_code_is_refused_without_asking_wechat_again(fake_wechat: Any) -> None:
    code = fake_wechat.app.mint_code("bob")
    client = APIClient()
    assert client.post("/api/v1/auth/wechat-login", {"code": code}, format="json").status_code == 200
    again = client.post("/api/v1/auth/wechat-login", {"code": code}, format="json")
    assert (again.status_code, again.json()["code"]) == (400, "wechat_code_used")
    assert fake_wechat.app.count("sns/jscode2session") == 1
    assert AuthToken.objects.count() == 1


def test_reused_code_seen_only_by_wechat_is_refused_too(fake_wechat: Any) -> None:
    code = fake_wechat.app.mint_code("bob")
    client = APIClient()
    client.post("/api/v1/auth/wechat-login", {"code": code}, format="json")
    cache.clear()  # e.g. another server process exchanged it
    again = client.post("/api/v1/auth/wechat-login", {"code": code}, format="json")
    assert (again.status_code, again.json()["code"]) == (400, "wechat_code_used")
    assert AuthToken.objects.count() == 1


@pytest.mark.parametrize(
    ("code", "status", "error"),
    [
        ("garbage", 400, "wechat_invalid_code"),
        ("busy-user-x-1", 503, "wechat_busy"),
        ("error45011-user-x-1", 429, "wechat_rate_limited"),
        ("error40226-user-x-1", 502, "wechat_error"),
    ],
)
def test_wechat_errors_have_stable_codes_and_write_nothing(
    fake_wechat: Any, code: str, status: int, error: str
) -> None:
    response = APIClient().post("/api/v1/auth/wechat-login", {"code": code}, format="json")
    assert (response.status_code, response.json()["code"]) == (status, error)
    assert (WechatIdentity.objects.count(), AuthToken.objects.count()) == (0, 0)


def test_a_code_wechat_did_not_consume_can_be_retried(fake_wechat: Any) -> None:
    client = APIClient()
    first = client.post("/api/v1/auth/wechat-login", {"code": "busy4-user-pat-1"}, format="json")
    assert first.json()["code"] == "wechat_busy"  # 1 try + 3 retries, all busy
    again = client.post("/api/v1/auth/wechat-login", {"code": "busy4-user-pat-1"}, format="json")
    assert again.status_code == 200


def test_login_input_is_validated(fake_wechat: Any) -> None:
    client = APIClient()
    for payload in ({}, {"code": ""}, {"code": "x" * 129}, {"code": "user-a-1", "extra": 1}):
        response = client.post("/api/v1/auth/wechat-login", payload, format="json")
        assert (response.status_code, response.json()["code"]) == (400, "invalid")
    assert fake_wechat.app.count("sns/jscode2session") == 0


def test_login_is_throttled_per_ip(fake_wechat: Any) -> None:
    client = APIClient()
    for i in range(30):
        client.post("/api/v1/auth/wechat-login", {"code": f"user-u{i}-1"}, format="json")
    response = client.post("/api/v1/auth/wechat-login", {"code": "user-late-1"}, format="json")
    assert (response.status_code, response.json()["code"]) == (429, "throttled")
    assert response.json()["extra"]["retry_after_seconds"] > 0
    other_ip = APIClient(REMOTE_ADDR="10.0.0.9")
    assert (
        other_ip.post("/api/v1/auth/wechat-login", {"code": "user-late-2"}, format="json").status_code == 200
    )


# --- Token expiry and revocation end the session ---------------------------------------------------


@pytest.mark.integration
def test_logout_revokes_and_announces_the_token(
    fake_wechat: Any, django_capture_on_commit_callbacks: Any
) -> None:
    body = login(APIClient(), fake_wechat)
    client = authed(body["token"])
    announced: list[list[int]] = []

    def receiver(sender: Any, token_ids: list[int], **kwargs: Any) -> None:
        announced.append(token_ids)

    tokens_revoked.connect(receiver)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            assert client.post("/api/v1/auth/logout").status_code == 204
    finally:
        tokens_revoked.disconnect(receiver)
    assert announced == [[AuthToken.objects.get().pk]]
    response = client.get("/api/v1/me")
    assert (response.status_code, response.json()["code"]) == (401, "token_revoked")


@pytest.mark.integration
def test_expired_token_ends_the_session(fake_wechat: Any) -> None:
    client = authed(login(APIClient(), fake_wechat)["token"])
    assert client.get("/api/v1/me").status_code == 200
    AuthToken.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    response = client.get("/api/v1/me")
    assert (response.status_code, response.json()["code"]) == (401, "token_expired")


@pytest.mark.integration
def test_relogin_rotates_the_previous_token(fake_wechat: Any) -> None:
    first = login(APIClient(), fake_wechat)["token"]
    second = login(APIClient(), fake_wechat)["token"]
    assert authed(first).get("/api/v1/me").json()["code"] == "token_revoked"
    assert authed(second).get("/api/v1/me").status_code == 200


# --- Binding ----------------------------------------------------------------------------------------


def bind(client: APIClient, ticket_number: str, id_no: str) -> Any:
    return client.post(
        "/api/v1/auth/bind", {"ticket_number": ticket_number, "id_number": id_no}, format="json"
    )


def test_bind_success_shows_masked_id_only(fake_wechat: Any) -> None:
    c = candidate(1, name="张三")
    register(c, session())
    client = authed(login(APIClient(), fake_wechat)["token"])
    response = bind(client, ticket(1), id_number(1))
    assert response.status_code == 200
    me = response.json()
    assert me["bound"] is True
    assert me["candidate"] == {
        "name": "张三",
        "ticket_number": ticket(1),
        "id_number_masked": id_numbers.mask(id_number(1)),
        "has_photo": False,
    }
    assert id_number(1) not in response.content.decode()
    assert len(me["registrations"]) == 1
    assert client.get("/api/v1/me").json() == me
    assert AccountAuditEntry.objects.filter(action="candidate_bound", target=f"candidate:{c.pk}").count() == 1


def test_wrong_ticket_and_wrong_id_give_byte_identical_responses(fake_wechat: Any) -> None:
    candidate(1)
    candidate(2)
    client = authed(login(APIClient(), fake_wechat)["token"])
    wrong_ticket = bind(client, ticket(99), id_number(1))  # unknown ticket, real ID number
    wrong_id = bind(client, ticket(1), id_number(2))  # real ticket, someone else's ID number
    unknown = bind(client, ticket(98), id_number(98))
    assert wrong_ticket.status_code == wrong_id.status_code == unknown.status_code == 400
    assert wrong_ticket.content == wrong_id.content == unknown.content
    assert wrong_ticket.json()["code"] == "binding_failed"
    assert sorted(wrong_ticket.headers.items()) == sorted(wrong_id.headers.items())
    assert WechatIdentity.objects.get().candidate_id is None


def test_lockout_after_repeated_failures_even_for_the_right_numbers(fake_wechat: Any, settings: Any) -> None:
    settings.BINDING_MAX_FAILURES_PER_IDENTITY = 3
    candidate(1)
    client = authed(login(APIClient(), fake_wechat)["token"])
    for _ in range(3):
        assert bind(client, ticket(1), id_number(2)).json()["code"] == "binding_failed"
    locked = bind(client, ticket(1), id_number(1))
    assert (locked.status_code, locked.json()["code"]) == (429, "binding_locked")
    assert 0 < locked.json()["extra"]["retry_after_seconds"] <= 15 * 60
    assert WechatIdentity.objects.get().candidate_id is None
    assert BindingFailure.objects.count() == 3  # a locked attempt is not counted again
    # After the window the right numbers bind, and the failures are forgotten.
    BindingFailure.objects.update(at=timezone.now() - timedelta(minutes=16))
    assert bind(client, ticket(1), id_number(1)).status_code == 200
    assert BindingFailure.objects.count() == 0


def test_lockout_per_ip_across_wechat_identities(fake_wechat: Any, settings: Any) -> None:
    settings.BINDING_MAX_FAILURES_PER_IP = 4
    candidate(1)
    for user in ("a", "b"):
        client = authed(login(APIClient(), fake_wechat, user=user)["token"])
        for _ in range(2):
            assert bind(client, ticket(1), id_number(3)).json()["code"] == "binding_failed"
    third = authed(login(APIClient(), fake_wechat, user="c")["token"])
    assert bind(third, ticket(1), id_number(1)).json()["code"] == "binding_locked"


def test_malformed_numbers_are_format_errors_not_failures(fake_wechat: Any) -> None:
    client = authed(login(APIClient(), fake_wechat)["token"])
    assert bind(client, "123", id_number(1)).json()["code"] == "invalid_ticket_number"
    assert bind(client, ticket(1), "110101199003074478").json()["code"] == "invalid_id_number"
    assert BindingFailure.objects.count() == 0


def test_one_wechat_per_candidate_and_admin_rebinding_is_audited(fake_wechat: Any) -> None:
    c = candidate(1)
    first = authed(login(APIClient(), fake_wechat, user="first")["token"])
    assert bind(first, ticket(1), id_number(1)).status_code == 200
    assert bind(first, ticket(1), id_number(1)).status_code == 200  # a repeat is fine
    second = authed(login(APIClient(), fake_wechat, user="second")["token"])
    refused = bind(second, ticket(1), id_number(1))
    assert (refused.status_code, refused.json()["code"]) == (409, "candidate_already_bound")
    candidate(2)
    assert bind(first, ticket(2), id_number(2)).json()["code"] == "identity_already_bound"

    admin = User.objects.create_user("admin1", password="pw-admin-123")
    roles.role_assign(user=admin, role="exam_admin")
    candidate_unbind(candidate=c, actor=admin, reason="换手机")
    assert first.get("/api/v1/me").json()["code"] == "token_revoked"
    assert bind(second, ticket(1), id_number(1)).status_code == 200
    entry = AccountAuditEntry.objects.get(action="candidate_unbound")
    assert (entry.actor_user, entry.target, entry.details["reason"]) == (admin, f"candidate:{c.pk}", "换手机")


def test_bind_needs_a_miniprogram_token(fake_wechat: Any) -> None:
    response = bind(APIClient(), ticket(1), id_number(1))
    assert (response.status_code, response.json()["code"]) == (401, "not_authenticated")


# --- Desktop login ----------------------------------------------------------------------------------


def desktop(payload: dict[str, Any]) -> Any:
    return APIClient().post("/api/v1/auth/desktop-login", payload, format="json")


def test_desktop_login_single_registration_checks_in(fake_wechat: Any) -> None:
    c = candidate(1)
    attempt = register(c, session())
    response = desktop({"ticket_number": ticket(1), "id_number": id_number(1)})
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["attempt_id"] == attempt.pk
    token = AuthToken.objects.get()
    assert (token.kind, token.attempt_id, token.candidate_id) == ("desktop", attempt.pk, c.pk)
    attempt.refresh_from_db()
    assert attempt.status == "checked_in"
    me = authed(body["token"]).get("/api/v1/me").json()
    assert (me["token_kind"], me["attempt_id"]) == ("desktop", attempt.pk)


def test_desktop_login_with_several_registrations_asks_to_choose(fake_wechat: Any) -> None:
    c = candidate(1)
    now = timezone.now()
    morning = session(starts_at=now + timedelta(minutes=10))
    afternoon = session(code="carbon-trading", starts_at=now + timedelta(hours=4))
    others = session(code="carbon-monitoring", starts_at=now + timedelta(hours=2))
    register(c, morning)
    register(c, afternoon)
    response = desktop({"ticket_number": ticket(1), "id_number": id_number(1)})
    assert (response.status_code, response.json()["code"]) == (409, "choose_session")
    listed = {s["session_id"]: s["registered"] for s in response.json()["extra"]["sessions"]}
    assert listed == {morning.pk: True, afternoon.pk: True, others.pk: False}
    refused = desktop({"ticket_number": ticket(1), "id_number": id_number(1), "session_id": others.pk})
    assert (refused.status_code, refused.json()["code"]) == (403, "not_registered")
    assert AuthToken.objects.count() == 0
    chosen = desktop({"ticket_number": ticket(1), "id_number": id_number(1), "session_id": morning.pk})
    assert chosen.status_code == 200
    assert Attempt.objects.get(session=morning).status == "checked_in"
    assert Attempt.objects.get(session=afternoon).status == "registered"


def test_desktop_login_outside_the_window_is_refused_by_exams(fake_wechat: Any) -> None:
    c = candidate(1)
    attempt = register(c, session(starts_at=timezone.now() + timedelta(hours=2)))
    response = desktop({"ticket_number": ticket(1), "id_number": id_number(1)})
    assert (response.status_code, response.json()["code"]) == (409, "login_window_not_open")
    attempt.refresh_from_db()
    assert (attempt.status, AuthToken.objects.count()) == ("registered", 0)


def test_desktop_login_window_follows_the_exam_clock(fake_wechat: Any) -> None:
    """-30 min opens, +15 min closes (exams' rules, read from exams.clock)."""
    from exams import clock

    c = candidate(1)
    start = timezone.now() + timedelta(days=1)
    attempt = register(c, session(starts_at=start))
    payload = {"ticket_number": ticket(1), "id_number": id_number(1)}
    with clock.frozen_at(start - timedelta(minutes=31)):
        assert desktop(payload).json()["code"] == "login_window_not_open"
    with clock.frozen_at(start + timedelta(minutes=15, seconds=1)):
        assert desktop(payload).json()["code"] == "login_window_closed"
    assert (Attempt.objects.get(pk=attempt.pk).status, AuthToken.objects.count()) == ("registered", 0)
    with clock.frozen_at(start - timedelta(minutes=29)):
        assert desktop(payload).status_code == 200
    assert Attempt.objects.get(pk=attempt.pk).status == "checked_in"


def test_desktop_login_mismatch_is_one_generic_error(fake_wechat: Any) -> None:
    candidate(1)
    candidate(2)
    a = desktop({"ticket_number": ticket(1), "id_number": id_number(2)})
    b = desktop({"ticket_number": ticket(3), "id_number": id_number(1)})
    assert a.status_code == b.status_code == 401
    assert a.content == b.content and a.json()["code"] == "login_failed"


# --- Privacy --------------------------------------------------------------------------------------


def test_no_id_number_token_or_session_key_in_logs(
    fake_wechat: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    c = candidate(1)
    register(c, session())
    body = login(APIClient(), fake_wechat)
    client = authed(body["token"])
    bind(client, ticket(1), id_number(2))
    bind(client, ticket(1), id_number(1))
    desktop_body = desktop({"ticket_number": ticket(1), "id_number": id_number(1)}).json()
    desktop({"ticket_number": ticket(1), "id_number": id_number(3)})
    client.post("/api/v1/auth/logout")
    session_key = id_numbers.decrypt_secret(WechatIdentity.objects.get().session_key_encrypted)
    text = caplog.text
    assert "wechat login: identity" in text  # the test does see our log lines
    for secret in (
        id_number(1),
        id_number(2),
        id_number(3),
        body["token"],
        desktop_body["token"],
        session_key,
    ):
        assert secret not in text
