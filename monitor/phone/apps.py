from __future__ import annotations

from django.apps import AppConfig


class PhoneConfig(AppConfig):
    """The phone-browser monitor: the pairing QR opened outside WeChat (same protocol as the mini-program)."""

    name = "monitor.phone"
    label = "phone"
    verbose_name = "Phone browser monitor"
    default_auto_field = "django.db.models.BigAutoField"
