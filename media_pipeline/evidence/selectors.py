"""Reads for evidence export, results reports and the retention purge. Keyword-only, typed."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db.models import Q, QuerySet

from config.errors import NotFoundError
from exams.models import Attempt, ExamSession, Incident
from media_pipeline.models import AudioBatch, Snapshot
from monitor.console.models import ReviewVerdict

# Incidents a purge must not erase the evidence of: undecided, or decided against the candidate
# (an appeal may follow). Dismissed ones are settled.
DISPUTED_INCIDENT_STATUSES = (Incident.Status.OPEN, Incident.Status.CONFIRMED)


def session_get(*, session_id: int) -> ExamSession:
    session = ExamSession.objects.select_related("subject").filter(pk=session_id).first()
    if session is None:
        raise NotFoundError("考试场次不存在 (exam session not found).", code="session_not_found")
    return session


def attempt_get(*, attempt_id: int) -> Attempt:
    attempt = (
        Attempt.objects.select_related("session", "session__subject", "candidate")
        .filter(pk=attempt_id)
        .first()
    )
    if attempt is None:
        raise NotFoundError("考试记录不存在 (attempt not found).", code="attempt_not_found")
    return attempt


def attempts_for_scope(*, session_id: int, attempt_id: int | None = None) -> QuerySet[Attempt]:
    qs = Attempt.objects.filter(session_id=session_id)
    if attempt_id is not None:
        qs = qs.filter(pk=attempt_id)
    return qs.select_related("candidate", "session", "session__subject").order_by(
        "candidate__ticket_number", "pk"
    )


def attempt_is_held(*, attempt: Attempt) -> bool:
    """Legal hold: flagged by staff, or disputed (an open or confirmed incident)."""
    if attempt.legal_hold:
        return True
    return Incident.objects.filter(attempt=attempt, status__in=DISPUTED_INCIDENT_STATUSES).exists()


def held_attempts_q() -> Q:
    return Q(legal_hold=True) | Q(incidents__status__in=DISPUTED_INCIDENT_STATUSES)


@dataclass
class PurgeCandidateAttempt:
    attempt_id: int
    session_id: int
    candidate_id: int
    snapshots: int
    audio_batches: int


@dataclass
class PurgePlan:
    now: datetime
    attempts: list[PurgeCandidateAttempt] = field(default_factory=list)
    held_attempt_ids: list[int] = field(default_factory=list)
    # Candidates whose every attempt is past retention and not held: photo and encrypted ID go.
    candidate_ids: list[int] = field(default_factory=list)


def _past_retention_ids(*, now: datetime) -> list[int]:
    """Attempts whose session ended more than its retention_days ago (computed per session)."""
    ids: list[int] = []
    for session in ExamSession.objects.filter(ends_at__lt=now).only("id", "ends_at", "retention_days"):
        if session.ends_at + timedelta(days=session.retention_days) < now:
            ids.extend(Attempt.objects.filter(session_id=session.pk).values_list("pk", flat=True))
    return ids


def purge_plan(*, now: datetime) -> PurgePlan:
    plan = PurgePlan(now=now)
    expired = set(_past_retention_ids(now=now))
    if not expired:
        return plan
    held = set(Attempt.objects.filter(pk__in=expired).filter(held_attempts_q()).values_list("pk", flat=True))
    plan.held_attempt_ids = sorted(held)
    eligible = sorted(expired - held)
    for attempt in (
        Attempt.objects.filter(pk__in=eligible).order_by("pk").only("id", "session_id", "candidate_id")
    ):
        plan.attempts.append(
            PurgeCandidateAttempt(
                attempt_id=attempt.pk,
                session_id=attempt.session_id,
                candidate_id=attempt.candidate_id,
                snapshots=Snapshot.objects.filter(attempt_id=attempt.pk).count(),
                audio_batches=AudioBatch.objects.filter(attempt_id=attempt.pk).count(),
            )
        )
    eligible_set = set(eligible)
    for candidate_id in sorted({a.candidate_id for a in plan.attempts}):
        others = set(Attempt.objects.filter(candidate_id=candidate_id).values_list("pk", flat=True))
        if others <= eligible_set:
            plan.candidate_ids.append(candidate_id)
    return plan


# --- Results report ------------------------------------------------------------------------------


RESULT_COLUMNS: list[tuple[str, str]] = [
    ("ticket_number", "准考证号"),
    ("name", "姓名"),
    ("id_number_masked", "身份证号(脱敏)"),
    ("subject", "科目"),
    ("level", "级别"),
    ("session_kind", "考试类型"),
    ("session_starts_at", "开始时间"),
    ("session_id", "场次编号"),
    ("attempt_id", "考试记录编号"),
    ("status", "状态"),
    ("outcome", "成绩处理"),
    ("status_reason", "状态原因"),
    ("score_void", "成绩作废"),
    ("screen_leaves", "离屏次数"),
    ("warnings_total", "警告总数"),
    ("warnings_by_category", "分类警告"),
    ("forced_or_disqualified_reason", "强制交卷/取消资格原因"),
    ("incidents_confirmed", "已确认异常"),
    ("incidents_open", "待处理异常"),
    ("review_verdict", "复核结论"),
    ("review_notes", "复核备注"),
    ("legal_hold", "法律保全"),
]

# Status values that end an attempt against the candidate's will; the reason column explains them.
_ENFORCED_STATUSES = ("force_submitted", "disqualified")


@dataclass(frozen=True)
class ResultRow:
    ticket_number: str
    name: str
    id_number_masked: str
    subject: str
    level: str
    session_kind: str
    session_starts_at: datetime
    session_id: int
    attempt_id: int
    status: str
    outcome: str
    status_reason: str
    score_void: bool
    screen_leaves: int
    warnings_total: int
    warnings_by_category: str
    forced_or_disqualified_reason: str
    incidents_confirmed: int
    incidents_open: int
    review_verdict: str  # the proctor console's ReviewVerdict, blank when not reviewed
    review_notes: str
    legal_hold: bool

    def values(self) -> list[object]:
        return [getattr(self, key) for key, _label in RESULT_COLUMNS]


def results_rows(*, session_id: int) -> list[ResultRow]:
    session = session_get(session_id=session_id)
    rows: list[ResultRow] = []
    attempts = attempts_for_scope(session_id=session.pk)
    incident_counts: dict[tuple[int, str], int] = {}
    for attempt_id, status in Incident.objects.filter(attempt__session_id=session.pk).values_list(
        "attempt_id", "status"
    ):
        incident_counts[(attempt_id, status)] = incident_counts.get((attempt_id, status), 0) + 1
    verdicts = {v.attempt_id: v for v in ReviewVerdict.objects.filter(attempt__session_id=session.pk)}
    for attempt in attempts:
        verdict = verdicts.get(attempt.pk)
        warnings = {str(k): int(v) for k, v in (attempt.warnings or {}).items()}
        enforced = attempt.status in _ENFORCED_STATUSES or attempt.score_void
        rows.append(
            ResultRow(
                ticket_number=attempt.candidate.ticket_number,
                name=attempt.candidate.name,
                id_number_masked=attempt.candidate.id_number_masked,
                subject=session.subject.name,
                level=str(session.get_level_display()),
                session_kind=str(session.get_kind_display()),
                session_starts_at=session.starts_at,
                session_id=session.pk,
                attempt_id=attempt.pk,
                status=attempt.status,
                outcome=attempt.outcome,
                status_reason=attempt.status_reason,
                score_void=attempt.score_void,
                screen_leaves=attempt.screen_leaves,
                warnings_total=sum(warnings.values()),
                warnings_by_category="; ".join(f"{k}={v}" for k, v in sorted(warnings.items())),
                forced_or_disqualified_reason=attempt.status_reason if enforced else "",
                incidents_confirmed=incident_counts.get((attempt.pk, Incident.Status.CONFIRMED), 0),
                incidents_open=incident_counts.get((attempt.pk, Incident.Status.OPEN), 0),
                review_verdict=str(verdict.get_verdict_display()) if verdict else "",
                review_notes=verdict.notes if verdict else "",
                legal_hold=attempt.legal_hold,
            )
        )
    return rows
