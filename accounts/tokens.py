"""Our own opaque bearer tokens (mini-program and desktop client).

A token is 32 random bytes (256 bits) shown to the client once; only its SHA-256 is stored, so a
database leak yields no usable token. Tokens expire, can be revoked, and are rotated on re-login.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from accounts.models import AuthToken, Candidate, WechatIdentity
from config.errors import ApplicationError


class TokenInvalid(ApplicationError):
    code = "token_invalid"
    http_status = 401
    default_message = "登录已失效，请重新登录 (token invalid)."


class TokenExpired(TokenInvalid):
    code = "token_expired"
    default_message = "登录已过期，请重新登录 (token expired)."


class TokenRevoked(TokenInvalid):
    code = "token_revoked"
    default_message = "登录已在其他设备失效，请重新登录 (token revoked)."


def hash_secret(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def new_secret(nbytes: int = 32) -> str:
    return secrets.token_urlsafe(nbytes)


@dataclass(frozen=True)
class IssuedToken:
    raw: str  # give to the client once; never log it
    token: AuthToken


def _ttl(kind: str) -> int:
    if kind == AuthToken.Kind.DESKTOP:
        return int(settings.DESKTOP_TOKEN_TTL_SECONDS)
    return int(settings.MINIPROGRAM_TOKEN_TTL_SECONDS)


@transaction.atomic
def token_issue(
    *,
    kind: str,
    wechat_identity: WechatIdentity | None = None,
    candidate: Candidate | None = None,
    attempt_id: int | None = None,
    rotate: bool = True,
) -> IssuedToken:
    """Issue a token; with ``rotate`` the subject's older live tokens of this kind are revoked."""
    now = timezone.now()
    if rotate:
        live = AuthToken.objects.filter(kind=kind, revoked_at__isnull=True)
        if wechat_identity is not None:
            live = live.filter(wechat_identity=wechat_identity)
        elif attempt_id is not None:
            live = live.filter(attempt_id=attempt_id)
        elif candidate is not None:
            live = live.filter(candidate=candidate)
        else:
            live = live.none()
        token_revoke_queryset(live, now=now)
    raw = new_secret()
    token = AuthToken.objects.create(
        key_hash=hash_secret(raw),
        kind=kind,
        wechat_identity=wechat_identity,
        candidate=candidate,
        attempt_id=attempt_id,
        expires_at=now + timedelta(seconds=_ttl(kind)),
    )
    return IssuedToken(raw=raw, token=token)


def token_authenticate(raw: str, *, kind: str | None = None) -> AuthToken:
    """The live token for ``raw`` or a TokenInvalid/Expired/Revoked error (stable codes)."""
    if not raw or len(raw) > 128:
        raise TokenInvalid()
    token = (
        AuthToken.objects.select_related("wechat_identity", "candidate")
        .filter(key_hash=hash_secret(raw))
        .first()
    )
    if token is None or (kind is not None and token.kind != kind):
        raise TokenInvalid()
    now = timezone.now()
    # Expiry first: the expiry sweep also sets revoked_at (to close sockets), yet it expired.
    if token.expires_at <= now:
        raise TokenExpired()
    if token.revoked_at is not None:
        raise TokenRevoked()
    # Touch at most once a minute: authentication must not write on every request.
    if token.last_used_at is None or now - token.last_used_at > timedelta(minutes=1):
        AuthToken.objects.filter(pk=token.pk).update(last_used_at=now)
    return token


def token_revoke_queryset(tokens: object, *, now: object = None) -> list[int]:
    """Revoke tokens; returns their ids and announces them (open WebSockets close on this)."""
    from django.db.models import QuerySet

    assert isinstance(tokens, QuerySet)
    ids = list(tokens.filter(revoked_at__isnull=True).values_list("id", flat=True))
    if ids:
        AuthToken.objects.filter(id__in=ids).update(revoked_at=now or timezone.now())
        from accounts.signals import tokens_revoked

        transaction.on_commit(lambda: tokens_revoked.send(sender=AuthToken, token_ids=ids))
    return ids


def token_revoke(*, token_id: int) -> None:
    token_revoke_queryset(AuthToken.objects.filter(id=token_id))


def tokens_expire_sweep(*, now: datetime | None = None) -> list[int]:
    """Mark tokens that expired as ended and announce them (tokens_revoked), so WebSockets opened
    with them close even though no request arrives to notice. Idempotent: each token once."""
    now = now or timezone.now()
    with transaction.atomic():
        return token_revoke_queryset(
            AuthToken.objects.filter(expires_at__lte=now, revoked_at__isnull=True), now=now
        )
