"""DRF throttles keyed per client IP and per subject (WeChat identity / candidate / staff user).

DRF's ScopedRateThrottle keys authenticated callers by ``request.user.pk``; our candidates carry a
token, not a Django user (pk None), so they would all share one bucket. These key on the token's
subject instead. The view names the rate with ``throttle_scope`` (settings DEFAULT_THROTTLE_RATES).
"""

from __future__ import annotations

import ipaddress
from typing import Any

from rest_framework.request import Request
from rest_framework.throttling import SimpleRateThrottle

from accounts.models import AuthToken


class _ViewScoped(SimpleRateThrottle):
    kind = ""

    def __init__(self) -> None:  # the rate is read per view in allow_request
        pass

    def allow_request(self, request: Request, view: Any) -> bool:
        self.scope = getattr(view, "throttle_scope", None)
        if not self.scope:
            return True
        self.rate = self.get_rate()
        self.num_requests, self.duration = self.parse_rate(self.rate)
        return super().allow_request(request, view)

    def ident_for(self, request: Request) -> str | None:
        raise NotImplementedError

    def get_cache_key(self, request: Request, view: Any) -> str | None:
        ident = self.ident_for(request)
        if ident is None:
            return None
        return f"throttle_{self.scope}_{self.kind}_{ident}"


class PerIpThrottle(_ViewScoped):
    kind = "ip"

    def ident_for(self, request: Request) -> str | None:
        return self.get_ident(request)


class PerSubjectThrottle(_ViewScoped):
    kind = "subject"

    def ident_for(self, request: Request) -> str | None:
        token = request.auth
        if isinstance(token, AuthToken):
            if token.wechat_identity_id:
                return f"w{token.wechat_identity_id}"
            if token.candidate_id:
                return f"c{token.candidate_id}"
        user = getattr(request, "user", None)
        if user is not None and getattr(user, "pk", None):
            return f"u{user.pk}"
        return None  # anonymous: the per-IP throttle covers it


def client_ip(request: Request) -> str | None:
    """The caller's IP as DRF sees it (honours settings NUM_PROXIES behind a reverse proxy)."""
    ident = PerIpThrottle().get_ident(request)
    try:
        return str(ipaddress.ip_address(ident.strip()))
    except ValueError:
        return None  # a malformed X-Forwarded-For: never let it reach an inet column
