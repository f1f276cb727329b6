"""REST views for exams: the desktop exam client (its attempt) and proctors (their sessions and attempts).

Views only translate HTTP: validate the envelope, call exams.services / exams.selectors, render. Errors
come back in the {"code", "message", "extra"} envelope (config.errors).
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.authentication import SessionAuthentication
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.authentication import BearerTokenAuthentication, HasDesktopToken
from accounts.models import AuthToken
from accounts.roles import IsProctor, can_see_attempt
from config.errors import PermissionError_
from exams import selectors, services
from exams.errors import AttemptNotFound
from exams.models import Attempt
from exams.state_machine import CANDIDATE_ACTIONS, PROCTOR_ACTIONS

# --- Output serializers (mirror exams.selectors.AttemptState; they document the schema) --------------


class _SessionInfoOut(serializers.Serializer):
    id = serializers.IntegerField()
    subject = serializers.CharField()
    subject_en = serializers.CharField()
    level = serializers.CharField()
    kind = serializers.CharField()
    scored = serializers.BooleanField()
    starts_at = serializers.DateTimeField()
    ends_at = serializers.DateTimeField()
    login_opens_at = serializers.DateTimeField()
    login_closes_at = serializers.DateTimeField()
    submit_opens_at = serializers.DateTimeField()


class _WarningCountOut(serializers.Serializer):
    category = serializers.CharField()
    label = serializers.CharField()  # type: ignore[assignment]
    issued = serializers.IntegerField()
    uncorrected = serializers.IntegerField()
    unacknowledged = serializers.IntegerField()
    limit = serializers.IntegerField()
    left_before_disqualification = serializers.IntegerField(allow_null=True)


class _DeadlineOut(serializers.Serializer):
    kind = serializers.CharField()
    due_at = serializers.DateTimeField()
    seconds_left = serializers.IntegerField()
    message = serializers.CharField()
    message_en = serializers.CharField()


class _IncidentOut(serializers.Serializer):
    id = serializers.IntegerField()
    kind = serializers.CharField()
    severity = serializers.IntegerField()
    first_seen_at = serializers.DateTimeField()
    last_seen_at = serializers.DateTimeField()
    occurrences = serializers.IntegerField()
    snapshot_ids = serializers.ListField(child=serializers.IntegerField())
    ended = serializers.BooleanField()


class AttemptStateOut(serializers.Serializer):
    attempt_id = serializers.IntegerField()
    status = serializers.CharField(help_text="Stable status constant (never translated).")
    # DRF's metaclass moves declared fields out of the class body, so these names do not shadow
    # Field.label / Serializer.data at run time; only the stubs see a clash.
    label = serializers.CharField(help_text="Display label in the request's language.")  # type: ignore[assignment]
    label_en = serializers.CharField()
    status_reason = serializers.CharField(help_text="e.g. left_screen_timeout, too_many_leaves, time_up.")
    outcome = serializers.CharField(help_text="pending / to_be_scored / unscored / void / absent")
    score_void = serializers.BooleanField()
    server_time = serializers.DateTimeField(help_text="Count down from this, not from the client's clock.")
    session = _SessionInfoOut()
    started_at = serializers.DateTimeField(allow_null=True)
    finished_at = serializers.DateTimeField(allow_null=True)
    time_left_s = serializers.IntegerField(allow_null=True)
    submit_allowed_in_s = serializers.IntegerField(allow_null=True)
    screen_leaves_used = serializers.IntegerField()
    screen_leaves_left = serializers.IntegerField()
    away_from_screen = serializers.BooleanField()
    break_requested = serializers.BooleanField()
    lost_devices = serializers.ListField(child=serializers.CharField())
    monitoring_consent = serializers.BooleanField()
    warnings = _WarningCountOut(many=True)
    deadlines = _DeadlineOut(many=True)
    incidents = _IncidentOut(many=True)


class EventOut(serializers.Serializer):
    seq = serializers.IntegerField()
    kind = serializers.CharField()
    actor = serializers.CharField()
    cause = serializers.CharField()
    data = serializers.JSONField()  # type: ignore[assignment]
    evidence = serializers.JSONField()
    client_time = serializers.DateTimeField(allow_null=True)
    created_at = serializers.DateTimeField()
    hash = serializers.CharField()


class AttemptDetailOut(serializers.Serializer):
    state = AttemptStateOut()
    candidate = serializers.DictField()
    events = EventOut(many=True)


class SessionOut(serializers.Serializer):
    id = serializers.IntegerField()
    subject = serializers.CharField(source="subject.name")
    subject_en = serializers.CharField(source="subject.name_en")
    level = serializers.CharField()
    kind = serializers.CharField()
    starts_at = serializers.DateTimeField()
    ends_at = serializers.DateTimeField()


class AttemptRowOut(serializers.Serializer):
    id = serializers.IntegerField()
    ticket_number = serializers.CharField(source="candidate.ticket_number")
    name = serializers.CharField(source="candidate.name")
    id_number_masked = serializers.CharField(source="candidate.id_number_masked")
    status = serializers.CharField()
    status_reason = serializers.CharField()
    screen_leaves = serializers.IntegerField()
    warnings = serializers.DictField(child=serializers.IntegerField())
    lost_devices = serializers.ListField(child=serializers.CharField())
    break_requested = serializers.SerializerMethodField()
    outcome = serializers.CharField()

    def get_break_requested(self, obj: Attempt) -> bool:
        return obj.break_requested_at is not None


# --- Input serializers -----------------------------------------------------------------------------------


class _ActionIn(serializers.Serializer):
    data = serializers.DictField(  # type: ignore[assignment]
        required=False, default=dict, help_text="Action parameters (see docs/exams.md)."
    )
    evidence = serializers.DictField(
        required=False, default=dict, help_text='References only: {"snapshots": [ids], "messages": [ids]}.'
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        unknown = set(self.initial_data) - set(self.fields)
        if unknown:
            raise serializers.ValidationError({name: "unknown field" for name in sorted(unknown)})
        return attrs


class CandidateActionIn(_ActionIn):
    action = serializers.CharField(
        max_length=32,
        help_text="One of: " + ", ".join(sorted(CANDIDATE_ACTIONS)) + " (others: action_not_allowed).",
    )
    client_time = serializers.CharField(
        required=False, allow_null=True, help_text="The client's clock (ISO 8601); recorded, never trusted."
    )


class ProctorActionIn(_ActionIn):
    action = serializers.CharField(
        max_length=32,
        help_text="One of: " + ", ".join(sorted(PROCTOR_ACTIONS)) + " (others: action_not_allowed).",
    )


def _state_response(attempt_id: int) -> Response:
    return Response(AttemptStateOut(selectors.attempt_state(attempt_id)).data)


# --- Desktop exam client -----------------------------------------------------------------------------------


class _DesktopView(APIView):
    authentication_classes = [BearerTokenAuthentication]
    permission_classes = [HasDesktopToken]

    def attempt_id(self, request: Request) -> int:
        token = request.auth
        assert isinstance(token, AuthToken)
        if token.attempt_id is None:
            raise PermissionError_(
                "令牌未绑定考试 (token not scoped to an attempt).", code="token_not_scoped"
            )
        return int(token.attempt_id)


class DesktopAttemptView(_DesktopView):
    @extend_schema(
        operation_id="desktop_attempt_state",
        summary="The desktop token's attempt: status, counters, time left, pending deadlines",
        responses=AttemptStateOut,
        tags=["exams: desktop"],
    )
    def get(self, request: Request) -> Response:
        return _state_response(self.attempt_id(request))


class DesktopAttemptActionView(_DesktopView):
    @extend_schema(
        operation_id="desktop_attempt_action",
        summary="Send a candidate action (start, focus_lost, focus_regained, break_request, ...)",
        request=CandidateActionIn,
        responses=AttemptStateOut,
        tags=["exams: desktop"],
    )
    def post(self, request: Request) -> Response:
        attempt_id = self.attempt_id(request)
        body = CandidateActionIn(data=request.data)
        body.is_valid(raise_exception=True)
        services.attempt_apply_action(
            attempt_id=attempt_id,
            action=body.validated_data["action"],
            actor=services.Actor.candidate(),
            data=body.validated_data["data"],
            evidence=body.validated_data["evidence"],
            client_time=body.validated_data.get("client_time"),
        )
        return _state_response(attempt_id)


# --- Proctors -------------------------------------------------------------------------------------------


class _ProctorView(APIView):
    authentication_classes = [SessionAuthentication]
    permission_classes = [IsProctor]

    def visible_attempt(self, request: Request, attempt_id: int) -> Attempt:
        attempt = selectors.attempt_get(attempt_id=attempt_id)
        if not can_see_attempt(request.user, attempt):
            # Same answer as a missing attempt: a proctor cannot probe other rooms' ids.
            raise AttemptNotFound(extra={"attempt_id": attempt_id})
        return attempt


class ProctorSessionListView(_ProctorView):
    @extend_schema(
        operation_id="proctor_sessions",
        summary="Sessions I proctor",
        responses=SessionOut(many=True),
        tags=["exams: proctor"],
    )
    def get(self, request: Request) -> Response:
        return Response(SessionOut(selectors.session_list_for_user(user=request.user), many=True).data)


class ProctorSessionAttemptsView(_ProctorView):
    @extend_schema(
        operation_id="proctor_session_attempts",
        summary="Attempts of a session I proctor",
        responses=AttemptRowOut(many=True),
        tags=["exams: proctor"],
    )
    def get(self, request: Request, session_id: int) -> Response:
        attempts = selectors.session_attempts(session_id=session_id, user=request.user)
        return Response(AttemptRowOut(attempts, many=True).data)


class ProctorAttemptView(_ProctorView):
    @extend_schema(
        operation_id="proctor_attempt_detail",
        summary="An attempt's state and its event timeline",
        responses=AttemptDetailOut,
        tags=["exams: proctor"],
    )
    def get(self, request: Request, attempt_id: int) -> Response:
        attempt = self.visible_attempt(request, attempt_id)
        candidate = attempt.candidate
        return Response(
            {
                "state": AttemptStateOut(selectors.attempt_state(attempt)).data,
                "candidate": {
                    "ticket_number": candidate.ticket_number,
                    "name": candidate.name,
                    "id_number_masked": candidate.id_number_masked,
                },
                "events": EventOut(selectors.attempt_events(attempt_id=attempt.pk), many=True).data,
            }
        )


class ProctorAttemptActionView(_ProctorView):
    @extend_schema(
        operation_id="proctor_attempt_action",
        summary="A proctor's decision: warn, break_approve/deny, force_submit, disqualify, incident_*",
        request=ProctorActionIn,
        responses=AttemptStateOut,
        tags=["exams: proctor"],
    )
    def post(self, request: Request, attempt_id: int) -> Response:
        attempt = self.visible_attempt(request, attempt_id)
        body = ProctorActionIn(data=request.data)
        body.is_valid(raise_exception=True)
        services.attempt_apply_action(
            attempt_id=attempt.pk,
            action=body.validated_data["action"],
            actor=services.actor_coerce(request.user),
            data=body.validated_data["data"],
            evidence=body.validated_data["evidence"],
        )
        return _state_response(attempt.pk)
