"""ASGI entry point: HTTP through Django, WebSockets through Channels (served by daphne)."""

from __future__ import annotations

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.embedded")
django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter  # noqa: E402
from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler  # noqa: E402

from monitor.routing import websocket_application  # noqa: E402

application = ProtocolTypeRouter(
    {
        # daphne serves nothing under STATIC_URL by itself (only `runserver` does, and only with DEBUG):
        # the phone page and the console need their JS/CSS in every profile. A CDN or reverse proxy in
        # front of production may take these requests over; nothing else changes.
        "http": ASGIStaticFilesHandler(django_asgi_app),
        "websocket": websocket_application,
    }
)
