"""Reads of the monitor area: the phone's pairing state, what a proctor may see, live summaries."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.utils import timezone

from exams.models import Attempt, ExamSession
from monitor import errors
from monitor.models import PairingToken, PhoneDevice


@dataclass(frozen=True)
class PhoneState:
    state: str  # unpaired | paired | online | lost (protocol.PairingState)
    device_id: int | None
    kind: str | None
    since: datetime | None


def phone_state(*, attempt_id: int, now: datetime | None = None) -> PhoneState:
    now = now or timezone.now()
    device = (
        PhoneDevice.objects.filter(attempt_id=attempt_id, revoked_at__isnull=True)
        .order_by("-paired_at")
        .first()
    )
    if device is None:
        return PhoneState(state="unpaired", device_id=None, kind=None, since=None)
    if device.lost_at is not None:
        return PhoneState(state="lost", device_id=device.pk, kind=device.kind, since=device.lost_at)
    timeout = timedelta(seconds=float(settings.HEARTBEAT_TIMEOUT_SECONDS))
    if device.last_seen_at is not None and now - device.last_seen_at <= timeout:
        return PhoneState(state="online", device_id=device.pk, kind=device.kind, since=device.last_seen_at)
    return PhoneState(state="paired", device_id=device.pk, kind=device.kind, since=device.paired_at)


def attempt_ended(*, attempt_id: int) -> bool:
    """The attempt reached a final status (submitted, force_submitted, disqualified, absent)."""
    from exams.state_machine import TERMINAL

    status = Attempt.objects.filter(pk=attempt_id).values_list("status", flat=True).first()
    return status is None or status in TERMINAL


def pairing_for_desktop(*, pairing_id: int, attempt_id: int) -> PairingToken:
    """A pairing row the desktop of ``attempt_id`` may render (its own, unclaimed, not expired)."""
    pairing = PairingToken.objects.filter(pk=pairing_id, attempt_id=attempt_id).first()
    if pairing is None:
        raise errors.PairingTokenUnknown()
    if pairing.claimed_at is not None:
        raise errors.PairingTokenUsed()
    if pairing.expires_at <= timezone.now():
        raise errors.PairingTokenExpired()
    return pairing


def proctor_can_see_session(*, user: Any, session_id: int) -> bool:
    """Assigned to the session (or to an attempt in it), or a chief proctor / exam admin."""
    from accounts import roles

    if roles.is_chief(user):
        return ExamSession.objects.filter(pk=session_id).exists()
    if not roles.is_proctor(user):
        return False
    return (
        ExamSession.proctors.through.objects.filter(examsession_id=session_id, user_id=user.pk).exists()
        or Attempt.objects.filter(session_id=session_id, proctor_id=user.pk).exists()
    )


def proctor_attempt(*, user: Any, attempt_id: int) -> Attempt:
    """The attempt if this proctor may act on it, else ProctorForbidden (same answer for unknown ids)."""
    from accounts import roles

    attempt = Attempt.objects.filter(pk=attempt_id).first()
    if attempt is None or not roles.can_see_attempt(user, attempt):
        raise errors.ProctorForbidden()
    return attempt


def _jsonable(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        value = dataclasses.asdict(value)
    return json.loads(json.dumps(value, default=str))


def attempt_live_state(*, attempt_id: int) -> dict[str, Any]:
    """What the desktop, phone and proctor display: the exam state plus the phone monitor's state."""
    from exams import selectors as exam_selectors

    state = _jsonable(exam_selectors.attempt_state(attempt_id))
    phone = phone_state(attempt_id=attempt_id)
    state["phone"] = _jsonable(phone)
    return state


def session_live_state(*, user: Any, session_id: int) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The proctor's initial view of a session: the session and every attempt it may see."""
    from accounts import roles

    if not proctor_can_see_session(user=user, session_id=session_id):
        raise errors.ProctorForbidden()
    session = ExamSession.objects.select_related("subject").get(pk=session_id)
    attempts = Attempt.objects.filter(session_id=session_id).order_by("pk")
    if (
        not roles.is_chief(user)
        and not ExamSession.proctors.through.objects.filter(
            examsession_id=session_id, user_id=user.pk
        ).exists()
    ):
        attempts = attempts.filter(proctor_id=user.pk)  # assigned to some attempts only
    info = {
        "id": session.pk,
        "subject": session.subject.name,
        "level": session.level,
        "kind": session.kind,
        "starts_at": session.starts_at.isoformat(),
        "ends_at": session.ends_at.isoformat(),
    }
    return info, [attempt_live_state(attempt_id=pk) for pk in attempts.values_list("pk", flat=True)]
