"""WebSocket routes. Browser routes (desktop page, proctor console) sit behind an Origin check;
the phone route authenticates with a short-lived ticket (mini-program sockets carry no Origin)."""

from __future__ import annotations

from typing import Any

from channels.auth import AuthMiddlewareStack
from channels.routing import URLRouter
from channels.security.websocket import AllowedHostsOriginValidator
from django.urls import path

from monitor import consumers

websocket_urlpatterns: list[Any] = [
    path("ws/phone/", consumers.PhoneConsumer.as_asgi()),
    path("ws/desktop/", AllowedHostsOriginValidator(consumers.DesktopConsumer.as_asgi())),
    # The proctor console may authenticate with its session cookie: hence the Origin check (CSWSH).
    path(
        "ws/proctor/", AllowedHostsOriginValidator(AuthMiddlewareStack(consumers.ProctorConsumer.as_asgi()))
    ),
]

websocket_application = URLRouter(websocket_urlpatterns)
