"""The phone-browser monitor page (/m/pair?t=<token>) and its three JSON endpoints. Thin: validate,
call monitor.phone.services, render. Errors render as {"code", "message", "extra"} (config.errors)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.middleware.csrf import CsrfViewMiddleware
from django.shortcuts import render
from django.views.decorators.csrf import ensure_csrf_cookie
from django.views.decorators.http import require_GET
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_serializer, inline_serializer
from rest_framework import serializers
from rest_framework.authentication import BaseAuthentication
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.throttles import PerIpThrottle
from monitor import protocol
from monitor.phone import errors, services
from monitor.phone.selectors import browser_pairing
from monitor.phone.texts import ui_catalogue

SESSION_KEY = "phone_device_id"


@require_GET
@ensure_csrf_cookie
def pair_page(request: HttpRequest) -> HttpResponse:
    """The page itself; the token stays in the URL fragment of this request only (the script drops it)."""
    # Chinese first whatever the phone's system language (the exam, its rules and the proctors are
    # Chinese); English is one tap away, or ?lang=en.
    lang = "en" if request.GET.get("lang") == "en" else "zh"
    config = {
        "lang": lang,
        "ui": ui_catalogue(),
        "protocol_version": protocol.PROTOCOL_VERSION,
        "urls": {
            "claim": "/m/api/claim",
            "consent": "/m/api/consent",
            "ticket": "/m/api/ticket",
            "state": "/m/api/state",
        },
        "audio_interval_ms": 100,
        "audio_batch_ms": 1000,
        "debug": bool(settings.DEBUG),
    }
    return render(request, "phone/pair.html", {"config": config, "lang": lang})


class _CsrfCheck(CsrfViewMiddleware):
    def _reject(self, request: HttpRequest, reason: str) -> str:
        return reason


class PageCsrf(BaseAuthentication):
    """The page's endpoints act on the device kept in the Django session: require the CSRF token like a
    form would (DRF exempts anonymous requests otherwise), and refuse with a stable code."""

    def authenticate(self, request: Request) -> None:
        check = _CsrfCheck(lambda req: HttpResponse())
        check.process_request(request._request)
        reason = check.process_view(request._request, lambda req: HttpResponse(), (), {})
        if reason:
            raise errors.CsrfFailed()
        return None


class _Strict(serializers.Serializer):
    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        unknown = sorted(set(self.initial_data) - set(self.fields))
        if unknown:
            raise serializers.ValidationError({name: "unknown field" for name in unknown})
        return attrs


class _PageApi(APIView):
    authentication_classes = [PageCsrf]
    permission_classes = [AllowAny]

    @staticmethod
    def device_id(request: Request) -> int | None:
        value = request.session.get(SESSION_KEY)
        return value if isinstance(value, int) else None


_PAIRING = inline_serializer(
    "BrowserPairing",
    {
        "device_id": serializers.IntegerField(),
        "attempt_id": serializers.IntegerField(),
        "session_id": serializers.IntegerField(),
        "subject": serializers.DictField(child=serializers.CharField()),
        "snapshot_interval_s": serializers.IntegerField(),
        "consented": serializers.BooleanField(),
        "notice": serializers.DictField(),
    },
)
# GET api/state: {"paired": false} alone on a first visit, else "paired": true plus the pairing.
_STATE = inline_serializer(
    "BrowserPairingState",
    {
        "paired": serializers.BooleanField(),
        "device_id": serializers.IntegerField(required=False),
        "attempt_id": serializers.IntegerField(required=False),
        "session_id": serializers.IntegerField(required=False),
        "subject": serializers.DictField(child=serializers.CharField(), required=False),
        "snapshot_interval_s": serializers.IntegerField(required=False),
        "consented": serializers.BooleanField(required=False),
        "notice": serializers.DictField(required=False),
    },
)
_ERROR = inline_serializer(
    "PhonePageError",
    {"code": serializers.CharField(), "message": serializers.CharField(), "extra": serializers.DictField()},
)


class ClaimApi(_PageApi):
    # Guessing confirm codes or ID numbers: per-IP limit (settings DEFAULT_THROTTLE_RATES["phone_claim"]).
    throttle_classes = [PerIpThrottle]
    throttle_scope = "phone_claim"

    @extend_schema_serializer(component_name="PhoneClaimInput")  # unique in the OpenAPI schema
    class Input(_Strict):
        token = serializers.CharField(max_length=128)
        confirm_code = serializers.RegexField(r"^\d{4}$", required=False)
        ticket_number = serializers.CharField(max_length=32, required=False)
        id_number = serializers.CharField(max_length=32, required=False)

        def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
            attrs = super().validate(attrs)
            by_code = "confirm_code" in attrs
            by_identity = "ticket_number" in attrs and "id_number" in attrs
            if by_code == by_identity or (
                not by_identity and ("ticket_number" in attrs or "id_number" in attrs)
            ):
                raise serializers.ValidationError(
                    {"confirm_code": "give either confirm_code, or ticket_number and id_number"}
                )
            return attrs

    @extend_schema(
        tags=["phone-browser"],
        summary="Pair this phone browser: pairing token (or typed code) + the desktop's confirm code, "
        "or + ticket number and ID number",
        request=Input,
        responses={
            200: _PAIRING,
            400: _ERROR,
            403: _ERROR,
            404: _ERROR,
            409: _ERROR,
            410: _ERROR,
            429: _ERROR,
        },
    )
    def post(self, request: Request) -> Response:
        data = self.Input(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        pairing = services.browser_pair(
            token_or_code=values["token"],
            confirm_code=values.get("confirm_code"),
            ticket_number=values.get("ticket_number"),
            id_number=values.get("id_number"),
            user_agent=request.META.get("HTTP_USER_AGENT", ""),
        )
        request.session.cycle_key()  # a new session id for a newly privileged session
        request.session[SESSION_KEY] = pairing.device_id
        return Response(pairing.as_json())


class StateApi(_PageApi):
    @extend_schema(
        tags=["phone-browser"],
        summary="The pairing of this browser, if any (the page asks after a reload)",
        responses={
            200: OpenApiResponse(
                _STATE, description='The pairing plus "paired": true, or only {"paired": false}.'
            )
        },
    )
    def get(self, request: Request) -> Response:
        try:
            pairing = browser_pairing(device_id=self.device_id(request))
        except (errors.BrowserNotPaired, errors.DeviceReplaced):
            return Response({"paired": False})  # the normal first visit: not an error
        return Response({"paired": True, **pairing.as_json()})


class ConsentApi(_PageApi):
    @extend_schema_serializer(component_name="PhoneConsentInput")
    class Input(_Strict):
        notice_version = serializers.CharField(max_length=32)
        accepted = serializers.BooleanField()

        def validate_accepted(self, value: bool) -> bool:
            if not value:
                raise serializers.ValidationError("the notice must be accepted")
            return value

    @extend_schema(
        tags=["phone-browser"],
        summary="Accept the monitoring notice (recorded as the exams action consent)",
        request=Input,
        responses={200: _PAIRING, 400: _ERROR, 409: _ERROR},
    )
    def post(self, request: Request) -> Response:
        data = self.Input(data=request.data)
        data.is_valid(raise_exception=True)
        pairing = services.browser_consent(
            device_id=self.device_id(request), notice_version=data.validated_data["notice_version"]
        )
        return Response(pairing.as_json())


class TicketApi(_PageApi):
    @extend_schema(
        tags=["phone-browser"],
        summary="A single-use ticket for /ws/phone/ (one per connection)",
        request=None,
        responses={
            200: inline_serializer(
                "BrowserWsTicket", {"ticket": serializers.CharField(), "ws_path": serializers.CharField()}
            ),
            403: _ERROR,
            409: OpenApiResponse(_ERROR, description="not paired, replaced, or consent missing"),
        },
    )
    def post(self, request: Request) -> Response:
        issued = services.browser_ticket_issue(device_id=self.device_id(request))
        return Response({"ticket": issued.raw, "ws_path": "/ws/phone/"})
