"""WebSocket routes. Browser routes (desktop page, proctor console) sit behind an Origin check;
the phone route authenticates with a short-lived ticket (mini-program sockets carry no Origin)."""

from __future__ import annotations

from channels.routing import URLRouter
from channels.security.websocket import AllowedHostsOriginValidator

websocket_urlpatterns: list = []

websocket_application = AllowedHostsOriginValidator(URLRouter(websocket_urlpatterns))
