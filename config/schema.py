"""OpenAPI (drf-spectacular) extensions: how our bearer tokens appear in the schema."""

from __future__ import annotations

from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension


class BearerTokenScheme(OpenApiAuthenticationExtension):
    target_class = "accounts.authentication.BearerTokenAuthentication"
    name = "bearerToken"

    def get_security_definition(self, auto_schema: Any) -> dict[str, Any]:
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "Opaque token from /api/v1/auth/wechat-login (mini-program) or "
            "/api/v1/auth/desktop-login (desktop exam client).",
        }


class PhonePageSessionScheme(OpenApiAuthenticationExtension):
    """The phone-browser page's endpoints (/m/api/): the Django session cookie plus the CSRF header."""

    target_class = "monitor.phone.views.PageCsrf"
    name = "phonePageSession"

    def get_security_definition(self, auto_schema: Any) -> dict[str, Any]:
        return {"type": "apiKey", "in": "cookie", "name": "sessionid"}
