"""Expired tokens are swept and announced so open WebSockets close; REST still says token_expired."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from accounts.models import AuthToken, WechatIdentity
from accounts.signals import tokens_revoked
from accounts.tasks import expire_tokens
from accounts.tokens import TokenExpired, token_authenticate, token_issue

pytestmark = [pytest.mark.django_db, pytest.mark.integration]


def test_sweep_announces_each_expired_token_once(django_capture_on_commit_callbacks: Any) -> None:
    old = token_issue(
        kind=AuthToken.Kind.MINIPROGRAM, wechat_identity=WechatIdentity.objects.create(openid="o1")
    )
    live = token_issue(
        kind=AuthToken.Kind.MINIPROGRAM, wechat_identity=WechatIdentity.objects.create(openid="o2")
    )
    AuthToken.objects.filter(pk=old.token.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    announced: list[list[int]] = []

    def receiver(sender: Any, token_ids: list[int], **kwargs: Any) -> None:
        announced.append(token_ids)

    tokens_revoked.connect(receiver)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            assert expire_tokens.apply().get() == 1
        with django_capture_on_commit_callbacks(execute=True):
            assert expire_tokens.apply().get() == 0  # a second run changes nothing
    finally:
        tokens_revoked.disconnect(receiver)
    assert announced == [[old.token.pk]]
    with pytest.raises(TokenExpired):
        token_authenticate(old.raw)  # still reported as expired, not revoked
    assert token_authenticate(live.raw).pk == live.token.pk
