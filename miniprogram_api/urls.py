"""REST endpoints for the mini-program, the desktop exam client and proctors (no models here).

One module per area so the areas can grow independently: accounts_api (login, binding, desktop
login), exams_api (attempt actions, proctor actions), pairing_api (QR tokens, WS tickets),
media_api (snapshot upload fallback, reports).
"""

from __future__ import annotations

from django.urls import include, path

app_name = "api"

urlpatterns = [
    path("", include("miniprogram_api.accounts_api")),
    path("", include("miniprogram_api.exams_api")),
    path("", include("miniprogram_api.pairing_api")),
    path("", include("miniprogram_api.media_api")),
    path("", include("miniprogram_api.evidence_api")),
]
