"""REST views for accounts: WeChat login, logout, me, binding, desktop login. Thin: validate, call
accounts.services / accounts.selectors, render. Errors are rendered by config.errors."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import selectors, services
from accounts.authentication import BearerTokenAuthentication, HasMiniprogramToken, HasToken
from accounts.models import AuthToken
from accounts.throttles import PerIpThrottle, PerSubjectThrottle, client_ip


class ErrorSerializer(serializers.Serializer):
    code = serializers.CharField()
    message = serializers.CharField()
    extra = serializers.DictField()


def _errors(*codes: int) -> dict[int, Any]:
    return {c: OpenApiResponse(ErrorSerializer) for c in codes}


class CandidateSummarySerializer(serializers.Serializer):
    name = serializers.CharField()
    ticket_number = serializers.CharField()
    id_number_masked = serializers.CharField()
    has_photo = serializers.BooleanField()


class RegistrationSerializer(serializers.Serializer):
    attempt_id = serializers.IntegerField()
    session_id = serializers.IntegerField()
    subject = serializers.CharField()
    subject_en = serializers.CharField()
    level = serializers.CharField()
    kind = serializers.CharField()
    starts_at = serializers.DateTimeField()
    ends_at = serializers.DateTimeField()
    status = serializers.CharField()


class MeSerializer(serializers.Serializer):
    token_kind = serializers.CharField()
    token_expires_at = serializers.DateTimeField()
    bound = serializers.BooleanField()
    candidate = CandidateSummarySerializer(allow_null=True)
    attempt_id = serializers.IntegerField(allow_null=True)
    registrations = RegistrationSerializer(many=True)


class StrictSerializer(serializers.Serializer):
    """Unknown fields are refused, like the WebSocket protocol does."""

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        unknown = set(self.initial_data) - set(self.fields) if isinstance(self.initial_data, dict) else set()
        if unknown:
            raise serializers.ValidationError({k: ["unknown field"] for k in sorted(unknown)})
        return attrs


class WechatLoginApi(APIView):
    """Mini-program login: ``wx.login`` code → our bearer token."""

    authentication_classes: list[type] = []
    permission_classes = [AllowAny]
    throttle_classes = [PerIpThrottle]
    throttle_scope = "wechat_login"

    class WechatLoginInputSerializer(StrictSerializer):
        code = serializers.CharField(max_length=128)

    class WechatLoginOutputSerializer(serializers.Serializer):
        token = serializers.CharField()
        expires_at = serializers.DateTimeField()
        me = MeSerializer()

    @extend_schema(
        request=WechatLoginInputSerializer,
        responses={200: WechatLoginOutputSerializer, **_errors(400, 429, 502, 503)},
    )
    def post(self, request: Request) -> Response:
        data = self.WechatLoginInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        issued, _identity = services.wechat_login(code=data.validated_data["code"])
        me = selectors.me_state(token=issued.token)
        body = {"token": issued.raw, "expires_at": issued.token.expires_at, "me": me}
        return Response(self.WechatLoginOutputSerializer(body).data)


class LogoutApi(APIView):
    """Revoke the calling token (mini-program or desktop)."""

    authentication_classes = [BearerTokenAuthentication]
    permission_classes = [HasToken]

    @extend_schema(request=None, responses={204: None, **_errors(401)})
    def post(self, request: Request) -> Response:
        assert isinstance(request.auth, AuthToken)
        services.wechat_logout(token=request.auth)
        return Response(status=status.HTTP_204_NO_CONTENT)


class MeApi(APIView):
    authentication_classes = [BearerTokenAuthentication]
    permission_classes = [HasToken]

    @extend_schema(responses={200: MeSerializer, **_errors(401)})
    def get(self, request: Request) -> Response:
        assert isinstance(request.auth, AuthToken)
        return Response(MeSerializer(selectors.me_state(token=request.auth)).data)


class BindApi(APIView):
    """Bind this WeChat identity to a candidate (ticket number + ID number must both match)."""

    authentication_classes = [BearerTokenAuthentication]
    permission_classes = [HasMiniprogramToken]
    throttle_classes = [PerIpThrottle, PerSubjectThrottle]
    throttle_scope = "binding"

    class BindInputSerializer(StrictSerializer):
        ticket_number = serializers.CharField(max_length=32)
        id_number = serializers.CharField(max_length=32)

    @extend_schema(request=BindInputSerializer, responses={200: MeSerializer, **_errors(400, 401, 409, 429)})
    def post(self, request: Request) -> Response:
        token = request.auth
        assert isinstance(token, AuthToken) and token.wechat_identity is not None
        data = self.BindInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        services.candidate_bind(
            wechat_identity=token.wechat_identity,
            ticket_number=data.validated_data["ticket_number"],
            id_number=data.validated_data["id_number"],
            ip=client_ip(request),
        )
        token.refresh_from_db()
        return Response(MeSerializer(selectors.me_state(token=token)).data)


class DesktopLoginApi(APIView):
    """Desktop exam client login → a token scoped to one attempt."""

    authentication_classes: list[type] = []
    permission_classes = [AllowAny]
    throttle_classes = [PerIpThrottle]
    throttle_scope = "desktop_login"

    class DesktopLoginInputSerializer(StrictSerializer):
        ticket_number = serializers.CharField(max_length=32)
        id_number = serializers.CharField(max_length=32)
        session_id = serializers.IntegerField(required=False, allow_null=True, min_value=1)

    class DesktopLoginOutputSerializer(serializers.Serializer):
        token = serializers.CharField()
        expires_at = serializers.DateTimeField()
        attempt_id = serializers.IntegerField()
        me = MeSerializer()

    @extend_schema(
        request=DesktopLoginInputSerializer,
        responses={200: DesktopLoginOutputSerializer, **_errors(400, 401, 403, 409, 429)},
    )
    def post(self, request: Request) -> Response:
        data = self.DesktopLoginInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        issued = services.desktop_login(
            ticket_number=data.validated_data["ticket_number"],
            id_number=data.validated_data["id_number"],
            session_id=data.validated_data.get("session_id"),
        )
        body = {
            "token": issued.raw,
            "expires_at": issued.token.expires_at,
            "attempt_id": issued.token.attempt_id,
            "me": selectors.me_state(token=issued.token),
        }
        return Response(self.DesktopLoginOutputSerializer(body).data)
