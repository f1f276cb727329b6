from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import include, path
from django.views import defaults
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView

from config import health, schema  # noqa: F401 - schema registers OpenAPI extensions

urlpatterns = [
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="api-docs"),
    path("api/redoc/", SpectacularRedocView.as_view(url_name="schema"), name="api-redoc"),
    path("api/v1/", include("miniprogram_api.urls")),
    path("", include("monitor.urls")),
    path("i18n/", include("django.conf.urls.i18n")),
    path("console/", include("monitor.console.urls")),
    # The pairing QR URL (PUBLIC_BASE_URL + "/m/pair?t=...") opened in a phone browser.
    path("m/", include("monitor.phone.urls")),
    path("accounts/", include("monitor.console.auth_urls")),
    path("admin/", admin.site.urls),
]


def not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    """A URL no route matched (e.g. ``/api/v1/pairing/tokens/abc/qr.png``): API clients get the
    documented ``{"code","message","extra"}`` JSON, not Django's HTML page (found by schemathesis)."""
    if request.path.startswith(("/api/", "/m/api/")):
        from config.errors import NotFoundError, error_body

        return JsonResponse(error_body(NotFoundError.code, str(NotFoundError.default_message)), status=404)
    response: Any = defaults.page_not_found(request, exception)
    return response


handler404 = not_found
