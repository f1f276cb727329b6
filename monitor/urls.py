"""Web pages of the monitor (proctor console, phone-browser page)."""

from __future__ import annotations

from django.urls import URLPattern

urlpatterns: list[URLPattern] = []
