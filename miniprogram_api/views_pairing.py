"""REST views for pairing (QR token, claim) and WebSocket tickets. Thin: validate, call
monitor.services / monitor.selectors, render. Errors are rendered by config.errors."""

from __future__ import annotations

import io
from typing import Any

import segno
from django.conf import settings
from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.authentication import SessionAuthentication
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.authentication import BearerTokenAuthentication, HasDesktopToken, HasMiniprogramToken
from accounts.models import AuthToken
from accounts.throttles import PerIpThrottle, PerSubjectThrottle
from miniprogram_api.views_accounts import ErrorSerializer, StrictSerializer
from monitor import selectors, services
from monitor.models import PairingToken, PhoneDevice, WsTicket


def _errors(*codes: int) -> dict[int, Any]:
    return {c: OpenApiResponse(ErrorSerializer) for c in codes}


def _ws_url(request: Request, role: str, ticket: str) -> str:
    base = request.build_absolute_uri("/")
    scheme = "wss" if base.startswith("https") else "ws"
    return f"{scheme}://{base.split('://', 1)[1].rstrip('/')}/ws/{role}/?ticket={ticket}"


def _desktop_attempt(request: Request) -> int:
    token = request.auth
    assert isinstance(token, AuthToken) and token.attempt_id is not None
    return token.attempt_id


class PairingOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    url = serializers.CharField(help_text="Encode this in the QR code (mini-program and phone browser).")
    confirm_code = serializers.CharField(help_text="4 digits shown on both screens.")
    fallback_code = serializers.CharField(help_text="8 characters to type when the QR cannot be scanned.")
    expires_at = serializers.DateTimeField()
    ttl_seconds = serializers.IntegerField()
    qr_png = serializers.CharField()
    qr_svg = serializers.CharField()
    wxacode_png = serializers.CharField()


class PairingTokenCreateApi(APIView):
    """Desktop: a new pairing QR for its attempt (call again to refresh; the old one expires)."""

    authentication_classes = [BearerTokenAuthentication]
    permission_classes = [HasDesktopToken]

    @extend_schema(request=None, responses={201: PairingOutputSerializer, **_errors(401, 403, 409)})
    def post(self, request: Request) -> Response:
        issued = services.pairing_token_create(attempt_id=_desktop_attempt(request))
        pairing = issued.pairing
        base = f"/api/v1/pairing/tokens/{pairing.pk}"
        body = {
            "id": pairing.pk,
            "url": issued.url,
            "confirm_code": pairing.confirm_code,
            "fallback_code": issued.fallback_code,
            "expires_at": pairing.expires_at,
            "ttl_seconds": int(settings.PAIRING_TOKEN_TTL_SECONDS),
            "qr_png": f"{base}/qr.png",
            "qr_svg": f"{base}/qr.svg",
            "wxacode_png": f"{base}/wxacode.png",
        }
        return Response(PairingOutputSerializer(body).data, status=201)


class _PairingImageApi(APIView):
    authentication_classes = [BearerTokenAuthentication]
    permission_classes = [HasDesktopToken]

    def issued(self, request: Request, pairing_id: int) -> services.IssuedPairing:
        pairing: PairingToken = selectors.pairing_for_desktop(
            pairing_id=pairing_id, attempt_id=_desktop_attempt(request)
        )
        return services.pairing_token_reveal(pairing=pairing)


def _image(content: bytes, content_type: str) -> HttpResponse:
    response = HttpResponse(content, content_type=content_type)
    response["Cache-Control"] = "no-store"  # a live credential
    return response


class PairingQrPngApi(_PairingImageApi):
    @extend_schema(responses={(200, "image/png"): OpenApiTypes.BINARY, **_errors(401, 403, 404, 409, 410)})
    def get(self, request: Request, pairing_id: int) -> HttpResponse:
        buf = io.BytesIO()
        segno.make(self.issued(request, pairing_id).url, error="m").save(buf, kind="png", scale=8, border=2)
        return _image(buf.getvalue(), "image/png")


class PairingQrSvgApi(_PairingImageApi):
    @extend_schema(responses={(200, "image/svg+xml"): OpenApiTypes.STR, **_errors(401, 403, 404, 409, 410)})
    def get(self, request: Request, pairing_id: int) -> HttpResponse:
        buf = io.BytesIO()
        segno.make(self.issued(request, pairing_id).url, error="m").save(buf, kind="svg", scale=8, border=2)
        return _image(buf.getvalue(), "image/svg+xml")


class PairingWxacodeApi(_PairingImageApi):
    """A mini-program code (wxacode.getUnlimited); ``scene`` is the 8-character fallback code."""

    @extend_schema(
        responses={(200, "image/png"): OpenApiTypes.BINARY, **_errors(401, 403, 404, 409, 410, 502)}
    )
    def get(self, request: Request, pairing_id: int) -> HttpResponse:
        from accounts import wechat

        issued = self.issued(request, pairing_id)
        return _image(
            wechat.get_wxa_code_unlimited(issued.fallback_code, page="pages/pair/index"), "image/png"
        )


class PairingClaimApi(APIView):
    """Phone (mini-program): claim the QR token or typed code → this phone monitors the attempt."""

    authentication_classes = [BearerTokenAuthentication]
    permission_classes = [HasMiniprogramToken]
    throttle_classes = [PerIpThrottle, PerSubjectThrottle]
    throttle_scope = "pairing_claim"

    class PairingClaimInputSerializer(StrictSerializer):
        token = serializers.CharField(max_length=128, required=False)
        fallback_code = serializers.CharField(max_length=16, required=False)
        user_agent = serializers.CharField(max_length=256, required=False, allow_blank=True)

        def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
            attrs = super().validate(attrs)
            if bool(attrs.get("token")) == bool(attrs.get("fallback_code")):
                raise serializers.ValidationError({"token": ["give exactly one of token, fallback_code"]})
            return attrs

    class PairingClaimOutputSerializer(serializers.Serializer):
        device_id = serializers.IntegerField()
        attempt_id = serializers.IntegerField()
        confirm_code = serializers.CharField(help_text="Show it: the candidate compares it with the desktop.")
        replaced_previous = serializers.BooleanField()
        ws_ticket = serializers.CharField()
        ws_url = serializers.CharField()

    @extend_schema(
        request=PairingClaimInputSerializer,
        responses={200: PairingClaimOutputSerializer, **_errors(400, 401, 403, 404, 409, 410)},
    )
    def post(self, request: Request) -> Response:
        token = request.auth
        assert isinstance(token, AuthToken)
        data = self.PairingClaimInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        result = services.pairing_claim(
            token_or_code=data.validated_data.get("token") or data.validated_data["fallback_code"],
            wechat_identity=token.wechat_identity,
            kind=PhoneDevice.Kind.MINIPROGRAM,
            user_agent=data.validated_data.get("user_agent") or request.headers.get("User-Agent", ""),
        )
        # Saves the phone a round trip: a ticket for its socket right away.
        ticket = services.ws_ticket_issue(role=WsTicket.Role.PHONE, auth_token=token)
        body = {
            "device_id": result.device.pk,
            "attempt_id": result.attempt_id,
            "confirm_code": result.confirm_code,
            "replaced_previous": bool(result.replaced_device_ids),
            "ws_ticket": ticket.raw,
            "ws_url": _ws_url(request, "phone", ticket.raw),
        }
        return Response(self.PairingClaimOutputSerializer(body).data)


class PairingStatusApi(APIView):
    """Desktop: the phone monitor's state (the WebSocket pushes the same; this is the polling fallback)."""

    authentication_classes = [BearerTokenAuthentication]
    permission_classes = [HasDesktopToken]

    class PairingStatusOutputSerializer(serializers.Serializer):
        state = serializers.ChoiceField(choices=["unpaired", "paired", "online", "lost"])
        device_id = serializers.IntegerField(allow_null=True)
        kind = serializers.CharField(allow_null=True)
        since = serializers.DateTimeField(allow_null=True)

    @extend_schema(responses={200: PairingStatusOutputSerializer, **_errors(401, 403)})
    def get(self, request: Request) -> Response:
        state = selectors.phone_state(attempt_id=_desktop_attempt(request))
        return Response(self.PairingStatusOutputSerializer(state).data)


class WsTicketApi(APIView):
    """A single-use ticket (60 s) for /ws/phone/, /ws/desktop/ or /ws/proctor/ (no token in URLs)."""

    authentication_classes = [BearerTokenAuthentication, SessionAuthentication]
    permission_classes = [AllowAny]  # the service checks the caller against the requested role
    throttle_classes = [PerIpThrottle, PerSubjectThrottle]
    throttle_scope = "ws_ticket"

    class WsTicketInputSerializer(StrictSerializer):
        role = serializers.ChoiceField(choices=WsTicket.Role.choices)

    class WsTicketOutputSerializer(serializers.Serializer):
        ticket = serializers.CharField()
        url = serializers.CharField()
        expires_at = serializers.DateTimeField()

    @extend_schema(
        request=WsTicketInputSerializer,
        responses={201: WsTicketOutputSerializer, **_errors(400, 401, 403, 409)},
    )
    def post(self, request: Request) -> Response:
        data = self.WsTicketInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        role = data.validated_data["role"]
        token = request.auth if isinstance(request.auth, AuthToken) else None
        user = request.user if token is None and request.user.is_authenticated else None
        if token is None and user is None:
            from rest_framework.exceptions import NotAuthenticated

            raise NotAuthenticated()
        issued = services.ws_ticket_issue(role=role, auth_token=token, user=user)
        body = {
            "ticket": issued.raw,
            "url": _ws_url(request, role, issued.raw),
            "expires_at": issued.ticket.expires_at,
        }
        return Response(self.WsTicketOutputSerializer(body).data, status=201)
