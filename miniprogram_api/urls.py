"""REST endpoints for the mini-program, the desktop exam client and proctors (no models here)."""

from __future__ import annotations

app_name = "api"

urlpatterns: list = []
