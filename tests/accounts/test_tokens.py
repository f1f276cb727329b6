"""Opaque bearer tokens: hashed at rest, expiry, revocation, rotation, stable error codes."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIRequestFactory

from accounts.authentication import BearerTokenAuthentication
from accounts.models import AuthToken, WechatIdentity
from accounts.tokens import TokenExpired, TokenInvalid, TokenRevoked, token_authenticate, token_issue

pytestmark = pytest.mark.django_db


@pytest.fixture
def identity() -> WechatIdentity:
    return WechatIdentity.objects.create(openid="o-test-1")


def test_token_is_random_and_only_its_hash_is_stored(identity: WechatIdentity) -> None:
    issued = token_issue(kind=AuthToken.Kind.MINIPROGRAM, wechat_identity=identity)
    assert len(issued.raw) >= 43  # 32 bytes urlsafe-base64
    stored = AuthToken.objects.get()
    assert issued.raw not in stored.key_hash
    assert token_authenticate(issued.raw).pk == stored.pk


def test_expired_token_is_refused_with_its_own_code(identity: WechatIdentity) -> None:
    issued = token_issue(kind=AuthToken.Kind.MINIPROGRAM, wechat_identity=identity)
    AuthToken.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    with pytest.raises(TokenExpired) as err:
        token_authenticate(issued.raw)
    assert err.value.code == "token_expired"


def test_relogin_rotates_and_old_token_reports_revoked(identity: WechatIdentity) -> None:
    first = token_issue(kind=AuthToken.Kind.MINIPROGRAM, wechat_identity=identity)
    second = token_issue(kind=AuthToken.Kind.MINIPROGRAM, wechat_identity=identity)
    with pytest.raises(TokenRevoked):
        token_authenticate(first.raw)
    assert token_authenticate(second.raw).pk == second.token.pk


def test_unknown_and_wrong_kind_tokens_are_invalid(identity: WechatIdentity) -> None:
    issued = token_issue(kind=AuthToken.Kind.MINIPROGRAM, wechat_identity=identity)
    with pytest.raises(TokenInvalid) as err:
        token_authenticate("nope" * 10)
    assert err.value.code == "token_invalid"
    with pytest.raises(TokenInvalid):
        token_authenticate(issued.raw, kind=AuthToken.Kind.DESKTOP)


def test_drf_authentication_reads_bearer_header(identity: WechatIdentity) -> None:
    issued = token_issue(kind=AuthToken.Kind.MINIPROGRAM, wechat_identity=identity)
    request = APIRequestFactory().get("/", HTTP_AUTHORIZATION=f"Bearer {issued.raw}")
    result = BearerTokenAuthentication().authenticate(request)
    assert result is not None
    assert result[1].pk == issued.token.pk
