"""DRF authentication for our bearer tokens: ``Authorization: Bearer <token>``.

``request.user`` is an AnonymousUser-like principal for candidates (they have no Django user);
views read ``request.auth`` (the AuthToken) for who is calling and which attempt a desktop token
is scoped to.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import AnonymousUser
from rest_framework import authentication, exceptions
from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from accounts.models import AuthToken
from accounts.tokens import TokenInvalid, token_authenticate


class CandidatePrincipal(AnonymousUser):
    """Authenticated, but not a Django user: DRF's IsAuthenticated must not let it into staff APIs."""

    @property
    def is_authenticated(self) -> bool:  # type: ignore[override]
        return True


class BearerTokenAuthentication(authentication.BaseAuthentication):
    keyword = "Bearer"

    def authenticate(self, request: Request) -> tuple[Any, AuthToken] | None:
        header = authentication.get_authorization_header(request).split()
        if not header or header[0].lower() != self.keyword.lower().encode():
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed("Invalid Authorization header.")
        try:
            token = token_authenticate(header[1].decode("ascii", errors="replace"))
        except TokenInvalid as exc:
            # Keep our stable code (token_expired / token_revoked / token_invalid).
            raise exceptions.AuthenticationFailed(exc.message, code=exc.code) from None
        return CandidatePrincipal(), token

    def authenticate_header(self, request: Request) -> str:
        return self.keyword


class HasToken(BasePermission):
    """The request carries one of our tokens, optionally of given kinds."""

    kinds: tuple[str, ...] = ()

    def has_permission(self, request: Request, view: Any) -> bool:
        token = request.auth
        return isinstance(token, AuthToken) and (not self.kinds or token.kind in self.kinds)


class HasMiniprogramToken(HasToken):
    kinds = (AuthToken.Kind.MINIPROGRAM,)


class HasDesktopToken(HasToken):
    kinds = (AuthToken.Kind.DESKTOP,)
