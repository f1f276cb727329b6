"""`manage.py run_fake_wechat --port 8765`: the local fake WeChat API (embedded profile, demo)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

from accounts.fake_wechat import FakeWechatServer


class Command(BaseCommand):
    help = "Serve the local fake WeChat API (cgi-bin/token, sns/jscode2session, wxa/getwxacodeunlimit)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8765)
        parser.add_argument("--appid", default=None, help="defaults to settings.WECHAT_APP_ID")
        parser.add_argument("--secret", default=None, help="defaults to settings.WECHAT_APP_SECRET")

    def handle(self, *args: Any, **options: Any) -> None:
        server = FakeWechatServer(
            options["host"],
            options["port"],
            appid=options["appid"] or settings.WECHAT_APP_ID,
            secret=options["secret"] or settings.WECHAT_APP_SECRET,
        )
        self.stdout.write(f"fake WeChat API on {server.base_url} (Ctrl-C to stop)")
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            pass
        finally:
            server.server_close()
