"""Reads for exams: what the desktop, the phone and the proctors display about an attempt.

Times left are computed from the server clock (exams.clock) at read time; clients count down from the
``server_time`` they receive and re-read on every ``attempt_changed`` push.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from django.db.models import Q, QuerySet
from django.utils import translation

from accounts.roles import is_chief
from exams import clock, errors, rules
from exams.models import Attempt, AttemptEvent, AttemptWarning, Deadline, ExamSession, Incident
from exams.services import session_rules
from exams.state_machine import STATUS_LABELS, STATUS_LABELS_EN, TERMINAL, Status

DEADLINE_TEXT: dict[str, tuple[str, str]] = {
    Deadline.Kind.LEAVE_RETURN: ("请在 {s} 秒内返回考试界面", "Return to the exam window within {s} s"),
    Deadline.Kind.BREAK_RETURN: ("请在 {s} 秒内回到座位", "Be back in your seat within {s} s"),
    Deadline.Kind.DEVICE_RETURN: ("请在 {s} 秒内重新连接设备", "Reconnect the device within {s} s"),
}
CATEGORY_LABELS: dict[str, tuple[str, str]] = {
    rules.APPEARANCE: ("仪容（遮挡面部/耳机/口罩/帽子）", "Appearance (face covered, headphones, mask, hat)"),
    rules.CAMERA: (
        "摄像头（出镜/逆光/遮挡/虚拟摄像头）",
        "Camera (out of frame, backlight, covered, virtual)",
    ),
    rules.CONDUCT: ("考场纪律", "Conduct"),
}


def _english() -> bool:
    return (translation.get_language() or "").startswith("en")


def _seconds_left(until: datetime, now: datetime) -> int:
    return max(0, int((until - now).total_seconds() + 0.999))


@dataclass(frozen=True)
class PendingDeadline:
    kind: str
    due_at: datetime
    seconds_left: int
    message: str
    message_en: str


@dataclass(frozen=True)
class WarningCount:
    category: str
    label: str
    issued: int
    uncorrected: int
    unacknowledged: int
    limit: int
    left_before_disqualification: int | None


@dataclass(frozen=True)
class OpenIncident:
    id: int
    kind: str
    severity: int
    first_seen_at: datetime
    last_seen_at: datetime
    occurrences: int
    snapshot_ids: list[int]
    ended: bool


@dataclass(frozen=True)
class SessionInfo:
    id: int
    subject: str
    subject_en: str
    level: str
    kind: str
    scored: bool
    starts_at: datetime
    ends_at: datetime
    login_opens_at: datetime
    login_closes_at: datetime
    submit_opens_at: datetime


@dataclass(frozen=True)
class AttemptState:
    attempt_id: int
    status: str
    label: str
    label_en: str
    status_reason: str
    outcome: str
    score_void: bool
    server_time: datetime
    session: SessionInfo
    started_at: datetime | None
    finished_at: datetime | None
    time_left_s: int | None  # until the end time (auto-submission); None before the start or when closed
    submit_allowed_in_s: int | None
    screen_leaves_used: int
    screen_leaves_left: int
    away_from_screen: bool
    break_requested: bool
    lost_devices: list[str]
    monitoring_consent: bool
    warnings: list[WarningCount]
    deadlines: list[PendingDeadline]
    incidents: list[OpenIncident] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def attempt_get(*, attempt_id: int) -> Attempt:
    try:
        return Attempt.objects.select_related("session", "session__subject", "candidate").get(pk=attempt_id)
    except Attempt.DoesNotExist:
        raise errors.AttemptNotFound(extra={"attempt_id": attempt_id}) from None


def attempt_state(attempt_id: int | Attempt) -> AttemptState:
    attempt = attempt_id if isinstance(attempt_id, Attempt) else attempt_get(attempt_id=attempt_id)
    session = attempt.session
    r = session_rules(session)
    now = clock.now()
    status = Status(attempt.status)
    closed = status in TERMINAL
    sitting = status in (Status.IN_PROGRESS, Status.ON_BREAK, Status.DEVICE_LOST)

    counts: dict[str, list[int]] = {}
    for category, corrected, acked in AttemptWarning.objects.filter(attempt=attempt).values_list(
        "category", "corrected_at", "acked_at"
    ):
        row = counts.setdefault(category, [0, 0, 0])
        row[0] += 1
        row[1] += corrected is None
        row[2] += acked is None
    warnings = []
    for category in rules.WARNING_CATEGORIES:
        issued, uncorrected, unacked = counts.get(category, [0, 0, 0])
        counted = category in rules.COUNTED_CATEGORIES
        zh, en = CATEGORY_LABELS[category]
        warnings.append(
            WarningCount(
                category=category,
                label=en if _english() else zh,
                issued=issued,
                uncorrected=uncorrected,
                unacknowledged=unacked,
                limit=r.max_warnings_per_category if counted else 0,
                left_before_disqualification=max(0, r.max_warnings_per_category - uncorrected)
                if counted
                else None,
            )
        )

    deadlines = []
    for d in Deadline.objects.filter(
        attempt=attempt, fired_at__isnull=True, cancelled_at__isnull=True
    ).order_by("due_at"):
        left = _seconds_left(d.due_at, now)
        zh, en = DEADLINE_TEXT.get(d.kind, ("{s}", "{s}"))
        deadlines.append(
            PendingDeadline(
                kind=d.kind,
                due_at=d.due_at,
                seconds_left=left,
                message=zh.format(s=left),
                message_en=en.format(s=left),
            )
        )

    incidents = [
        OpenIncident(
            id=i.pk,
            kind=i.kind,
            severity=i.severity,
            first_seen_at=i.first_seen_at,
            last_seen_at=i.last_seen_at,
            occurrences=i.occurrences,
            snapshot_ids=list(i.snapshot_ids),
            ended=i.ended_at is not None,
        )
        for i in Incident.objects.filter(attempt=attempt, status=Incident.Status.OPEN).order_by(
            "first_seen_at"
        )
    ]

    return AttemptState(
        attempt_id=attempt.pk,
        status=str(status),
        label=str(STATUS_LABELS_EN[status] if _english() else STATUS_LABELS[status]),
        label_en=STATUS_LABELS_EN[status],
        status_reason=attempt.status_reason,
        outcome=attempt.outcome,
        score_void=attempt.score_void,
        server_time=now,
        session=SessionInfo(
            id=session.pk,
            subject=session.subject.name,
            subject_en=session.subject.name_en,
            level=session.level,
            kind=session.kind,
            scored=r.scored,
            starts_at=r.starts_at,
            ends_at=r.ends_at,
            login_opens_at=r.login_opens_at,
            login_closes_at=r.login_closes_at,
            submit_opens_at=r.submit_opens_at,
        ),
        started_at=attempt.started_at,
        finished_at=attempt.finished_at,
        time_left_s=_seconds_left(r.ends_at, now) if sitting and not closed else None,
        submit_allowed_in_s=_seconds_left(r.submit_opens_at, now) if status == Status.IN_PROGRESS else None,
        screen_leaves_used=attempt.screen_leaves,
        screen_leaves_left=max(0, r.max_screen_leaves - attempt.screen_leaves),
        away_from_screen=attempt.focus_lost_at is not None,
        break_requested=attempt.break_requested_at is not None,
        lost_devices=list(attempt.lost_devices),
        monitoring_consent=attempt.monitoring_consent_at is not None,
        warnings=warnings,
        deadlines=deadlines,
        incidents=incidents,
    )


def attempt_events(*, attempt_id: int) -> QuerySet[AttemptEvent]:
    return AttemptEvent.objects.filter(attempt_id=attempt_id).order_by("seq")


def session_list_for_user(*, user: Any) -> QuerySet[ExamSession]:
    """Sessions a staff user proctors (chief proctors and exam admins: all)."""
    sessions = ExamSession.objects.select_related("subject").order_by("starts_at", "subject__code", "level")
    if is_chief(user):
        return sessions
    return sessions.filter(Q(proctors=user) | Q(attempts__proctor=user)).distinct()


def session_attempts(*, session_id: int, user: Any) -> QuerySet[Attempt]:
    attempts = Attempt.objects.filter(session_id=session_id).select_related(
        "candidate", "session", "session__subject"
    )
    if (
        is_chief(user)
        or ExamSession.proctors.through.objects.filter(examsession_id=session_id, user_id=user.pk).exists()
    ):
        return attempts.order_by("candidate__ticket_number")
    return attempts.filter(proctor=user).order_by("candidate__ticket_number")
