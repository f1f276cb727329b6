"""WebSocket routes. Browser routes (desktop page, proctor console) sit behind an Origin check;
the phone route authenticates with a short-lived ticket (mini-program sockets carry no Origin)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlparse

from channels.auth import AuthMiddlewareStack
from channels.routing import URLRouter
from channels.security.websocket import OriginValidator
from django.conf import settings
from django.urls import path

from monitor import consumers


def allowed_origins() -> list[str]:
    """Hosts a browser socket may come from (any port): ALLOWED_HOSTS, CSRF_TRUSTED_ORIGINS and
    PUBLIC_BASE_URL. Unlike AllowedHostsOriginValidator this never turns into "anything" when the
    embedded profile's ALLOWED_HOSTS is ``*``: cross-site WebSocket hijacking stays refused there too."""
    hosts = [h for h in settings.ALLOWED_HOSTS if h != "*"]
    for url in [*getattr(settings, "CSRF_TRUSTED_ORIGINS", []), settings.PUBLIC_BASE_URL]:
        host = urlparse(url).hostname
        if host:
            hosts.append(host)
    return sorted(set(hosts))


def browser_route(app: Any) -> Any:
    return OriginValidator(app, allowed_origins())


websocket_urlpatterns: list[Any] = [
    path("ws/phone/", consumers.PhoneConsumer.as_asgi()),
    path("ws/desktop/", browser_route(consumers.DesktopConsumer.as_asgi())),
    # The proctor console may authenticate with its session cookie: hence the Origin check (CSWSH).
    path("ws/proctor/", browser_route(AuthMiddlewareStack(consumers.ProctorConsumer.as_asgi()))),
]

websocket_application = URLRouter(websocket_urlpatterns)
