"""Reads of the proctor console: which sessions and candidates a proctor sees, the grid page, the
alerts, an attempt's timeline and the review queue. Keyword-only, typed, dataclasses out.

Who may see what is decided by accounts.roles and monitor.selectors (one rule for pages, REST and
WebSockets); this module only shapes what the pages show.
"""

from __future__ import annotations

import array
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.core.paginator import Page, Paginator
from django.db.models import Count, OuterRef, Q, QuerySet, Subquery

from accounts import roles
from exams.models import Attempt, AttemptEvent, ExamSession, Incident
from exams.state_machine import STATUS_LABELS, TERMINAL, Status
from media_pipeline.models import AudioBatch, Snapshot
from monitor import selectors as monitor_selectors
from monitor.console import errors
from monitor.console.models import ProctorActionAudit, ReviewVerdict

GRID_PAGE_SIZE = 30
SEVERITY_INFO, SEVERITY_WARNING, SEVERITY_CRITICAL = 1, 2, 3


def sessions_for_user(*, user: Any) -> QuerySet[ExamSession]:
    """Chief proctors and admins: every session. Proctors: sessions they are assigned to (to the
    session, or to a candidate in it)."""
    qs = ExamSession.objects.select_related("subject").annotate(
        attempt_count=Count("attempts", distinct=True)
    )
    if roles.is_chief(user):
        return qs.order_by("-starts_at", "pk")
    if not roles.is_proctor(user):
        return qs.none()
    return qs.filter(Q(proctors=user) | Q(attempts__proctor=user)).distinct().order_by("-starts_at", "pk")


def session_for_user(*, user: Any, session_id: int) -> ExamSession:
    """The session, or ConsoleForbidden (the same answer for an unknown id: ids are not probed)."""
    if not monitor_selectors.proctor_can_see_session(user=user, session_id=session_id):
        raise errors.ConsoleForbidden()
    return ExamSession.objects.select_related("subject").get(pk=session_id)


def attempt_for_user(*, user: Any, attempt_id: int) -> Attempt:
    attempt = (
        Attempt.objects.select_related("candidate", "session", "session__subject", "proctor")
        .filter(pk=attempt_id)
        .first()
    )
    if attempt is None or not roles.can_see_attempt(user, attempt):
        raise errors.ConsoleForbidden()
    return attempt


def attempts_for_user(*, user: Any, session: ExamSession, mine_only: bool = False) -> QuerySet[Attempt]:
    """What the proctor may see in ``session``; ``mine_only``: just the candidates assigned to them."""
    qs = Attempt.objects.filter(session=session)
    in_session = ExamSession.proctors.through.objects.filter(
        examsession_id=session.pk, user_id=user.pk
    ).exists()
    if mine_only or not (roles.is_chief(user) or in_session):
        qs = qs.filter(proctor=user)
    return qs


# --- the grid ---------------------------------------------------------------------------------------


def mask_ticket(ticket: str) -> str:
    """The ticket number is the candidate's mobile number: the grid shows 138****5678."""
    return ticket[:3] + "****" + ticket[-4:] if len(ticket) >= 8 else ticket


def decode_levels(raw: bytes | memoryview | None) -> list[int]:
    """AudioBatch.levels: one signed byte per interval, dBFS rounded."""
    return list(array.array("b", bytes(raw or b"")))


@dataclass(frozen=True)
class IncidentBadge:
    id: int
    kind: str
    severity: int
    first_seen_at: datetime
    last_seen_at: datetime
    occurrences: int


@dataclass
class Tile:
    attempt_id: int
    candidate_name: str
    ticket_masked: str
    status: str
    status_label: str
    proctor_name: str
    screen_leaves: int
    max_screen_leaves: int
    warnings: dict[str, int]
    max_warnings: int
    phone_state: str
    phone_seen_at: datetime | None
    latest_snapshot_id: int | None
    audio_dbfs: int | None
    break_requested: bool
    focus_lost: bool
    incidents: list[IncidentBadge] = field(default_factory=list)

    @property
    def is_live(self) -> bool:
        return self.status not in TERMINAL

    def as_json(self) -> dict[str, Any]:
        return {
            "attempt_id": self.attempt_id,
            "status": self.status,
            "screen_leaves": self.screen_leaves,
            "warnings": self.warnings,
            "phone_state": self.phone_state,
            "latest_snapshot_id": self.latest_snapshot_id,
            "audio_dbfs": self.audio_dbfs,
            "break_requested": self.break_requested,
            "focus_lost": self.focus_lost,
            "incidents": [{"id": i.id, "kind": i.kind, "severity": i.severity} for i in self.incidents],
        }


@dataclass(frozen=True)
class GridFilters:
    status: str = ""  # a Status value, "live" or "" (all)
    incidents: bool = False  # only candidates with open incidents
    mine: bool = False


def _status_label(status: str) -> str:
    try:
        return str(STATUS_LABELS[Status(status)])
    except ValueError:
        return status


def _audio_levels(attempt_ids: list[int]) -> dict[int, int]:
    """The loudest level of each attempt's latest audio batch (the meter's reading)."""
    latest = AudioBatch.objects.filter(attempt_id=OuterRef("attempt_id")).order_by("-received_at", "-pk")
    rows = AudioBatch.objects.filter(
        attempt_id__in=attempt_ids, pk=Subquery(latest.values("pk")[:1])
    ).values_list("attempt_id", "levels")
    out: dict[int, int] = {}
    for attempt_id, raw in rows:
        levels = decode_levels(raw)
        if levels:
            out[attempt_id] = max(levels)
    return out


def tiles_for(*, attempts: list[Attempt]) -> list[Tile]:
    ids = [a.pk for a in attempts]
    badges: dict[int, list[IncidentBadge]] = {}
    for inc in Incident.objects.filter(attempt_id__in=ids, status=Incident.Status.OPEN).order_by(
        "-severity", "-last_seen_at"
    ):
        badges.setdefault(inc.attempt_id, []).append(
            IncidentBadge(
                inc.pk, inc.kind, inc.severity, inc.first_seen_at, inc.last_seen_at, inc.occurrences
            )
        )
    audio = _audio_levels(ids)
    tiles = []
    for a in attempts:
        phone = monitor_selectors.phone_state(attempt_id=a.pk)
        tiles.append(
            Tile(
                attempt_id=a.pk,
                candidate_name=a.candidate.name,
                ticket_masked=mask_ticket(a.candidate.ticket_number),
                status=a.status,
                status_label=_status_label(a.status),
                proctor_name=a.proctor.get_username() if a.proctor else "",
                screen_leaves=a.screen_leaves,
                max_screen_leaves=a.session.max_screen_leaves,
                warnings={str(k): int(v) for k, v in (a.warnings or {}).items()},
                max_warnings=a.session.max_warnings_per_category,
                phone_state=phone.state,
                phone_seen_at=phone.since,
                latest_snapshot_id=getattr(a, "latest_snapshot_id", None),
                audio_dbfs=audio.get(a.pk),
                break_requested=a.break_requested_at is not None,
                focus_lost=a.focus_lost_at is not None,
                incidents=badges.get(a.pk, []),
            )
        )
    return tiles


def grid_page(
    *, user: Any, session: ExamSession, filters: GridFilters, page: int = 1, per_page: int = GRID_PAGE_SIZE
) -> tuple[Page, list[Tile]]:
    qs = attempts_for_user(user=user, session=session, mine_only=filters.mine)
    if filters.status == "live":
        qs = qs.exclude(status__in=[str(s) for s in TERMINAL])
    elif filters.status:
        qs = qs.filter(status=filters.status)
    if filters.incidents:
        qs = qs.filter(incidents__status=Incident.Status.OPEN).distinct()
    latest = (
        Snapshot.objects.filter(attempt_id=OuterRef("pk")).order_by("-received_at", "-pk").values("pk")[:1]
    )
    qs = (
        qs.select_related("candidate", "session", "proctor")
        .annotate(latest_snapshot_id=Subquery(latest))
        .order_by("candidate__ticket_number", "pk")
    )
    paginator = Paginator(qs, per_page)
    current = paginator.get_page(page)
    return current, tiles_for(attempts=list(current.object_list))


# --- alerts -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Alert:
    attempt_id: int
    candidate_name: str
    kind: str  # an incident kind, "break_requested", "phone_lost", "focus_lost"
    severity: int
    at: datetime
    incident_id: int | None = None


def alerts_for(*, user: Any, session: ExamSession, limit: int = 100) -> list[Alert]:
    """What needs a proctor now, most severe first, then newest first."""
    visible = attempts_for_user(user=user, session=session).exclude(status__in=[str(s) for s in TERMINAL])
    alerts: list[Alert] = []
    for inc in (
        Incident.objects.filter(attempt__in=visible, status=Incident.Status.OPEN)
        .select_related("attempt__candidate")
        .order_by("-severity", "-last_seen_at")[:limit]
    ):
        alerts.append(
            Alert(
                inc.attempt_id, inc.attempt.candidate.name, inc.kind, inc.severity, inc.last_seen_at, inc.pk
            )
        )
    for a in visible.select_related("candidate").filter(
        Q(break_requested_at__isnull=False) | Q(focus_lost_at__isnull=False) | Q(status=Status.DEVICE_LOST)
    )[:limit]:
        if a.break_requested_at is not None:
            alerts.append(
                Alert(a.pk, a.candidate.name, "break_requested", SEVERITY_WARNING, a.break_requested_at)
            )
        if a.focus_lost_at is not None:
            alerts.append(Alert(a.pk, a.candidate.name, "focus_lost", SEVERITY_WARNING, a.focus_lost_at))
        if a.status == Status.DEVICE_LOST:
            alerts.append(Alert(a.pk, a.candidate.name, "device_lost", SEVERITY_CRITICAL, a.updated_at))
    alerts.sort(key=lambda al: (-al.severity, -al.at.timestamp()))
    return alerts[:limit]


# --- the candidate view -------------------------------------------------------------------------------

# Severity of timeline events (colour in the timeline): decisions that end or void an attempt are
# critical; anything a proctor should look at is a warning; the rest is information.
_CRITICAL_EVENTS = frozenset(
    {"force_submit", "disqualify", "leave_timeout", "break_timeout", "device_timeout", "incident_confirm"}
)
_WARNING_EVENTS = frozenset(
    {
        "warn",
        "focus_lost",
        "phone_lost",
        "desktop_lost",
        "break_request",
        "incident_opened",
        "incident_reported",
    }
)


def event_severity(kind: str) -> int:
    if kind in _CRITICAL_EVENTS:
        return SEVERITY_CRITICAL
    if kind in _WARNING_EVENTS or kind.startswith("incident"):
        return SEVERITY_WARNING
    return SEVERITY_INFO


@dataclass(frozen=True)
class TimelineEntry:
    at: datetime
    source: str  # event / incident / audit
    kind: str
    actor: str
    severity: int
    data: dict[str, Any]
    ref_id: int

    def as_json(self) -> dict[str, Any]:
        return {
            "at": self.at.isoformat(),
            "source": self.source,
            "kind": self.kind,
            "actor": self.actor,
            "severity": self.severity,
            "data": self.data,
            "id": self.ref_id,
        }


# Audit rows of mere viewing do not belong in the timeline (they are in the audit page).
_VIEW_ACTIONS = ("view_attempt", "view_snapshot", "view_photo", "view_grid", "view_review")


def _staff_names(actors: set[str]) -> dict[str, str]:
    """``proctor:<id>`` (how the event log records a staff member) → that person's name."""
    from accounts.models import User

    prefix = "proctor:"
    ids = {int(a[len(prefix) :]) for a in actors if a.startswith(prefix) and a[len(prefix) :].isdigit()}
    users = User.objects.filter(pk__in=ids)
    return {f"proctor:{u.pk}": u.get_full_name() or u.get_username() for u in users}


def attempt_timeline(*, attempt: Attempt) -> list[TimelineEntry]:
    events = list(AttemptEvent.objects.filter(attempt=attempt).order_by("seq"))
    names = _staff_names({e.actor for e in events})
    entries = [
        TimelineEntry(
            e.created_at,
            "event",
            e.kind,
            names.get(e.actor, e.actor),
            event_severity(e.kind),
            e.data or {},
            e.pk,
        )
        for e in events
    ]
    for inc in Incident.objects.filter(attempt=attempt).order_by("first_seen_at"):
        entries.append(
            TimelineEntry(
                inc.first_seen_at,
                "incident",
                inc.kind,
                "system",
                inc.severity,
                {
                    "status": inc.status,
                    "occurrences": inc.occurrences,
                    "last_seen_at": inc.last_seen_at.isoformat(),
                    "snapshot_ids": list(inc.snapshot_ids or [])[:20],
                    "note": inc.note,
                },
                inc.pk,
            )
        )
    for row in ProctorActionAudit.objects.filter(attempt=attempt).exclude(action__in=_VIEW_ACTIONS):
        entries.append(
            TimelineEntry(
                row.at, "audit", row.action, row.actor_label, SEVERITY_INFO, row.details or {}, row.pk
            )
        )
    entries.sort(key=lambda e: (e.at, e.source, e.ref_id))
    return entries


@dataclass(frozen=True)
class SnapshotRef:
    id: int
    seq: int
    received_at: datetime
    passed: bool | None


def attempt_snapshots(*, attempt: Attempt, limit: int = 2000) -> list[SnapshotRef]:
    """The slideshow's frames, oldest first (ids only: images load one at a time)."""
    rows = (
        Snapshot.objects.filter(attempt=attempt)
        .order_by("received_at", "pk")
        .values_list("pk", "seq", "received_at", "analysis__passed")[:limit]
    )
    return [SnapshotRef(pk, seq, at, passed) for pk, seq, at, passed in rows]


def open_incidents(*, attempt: Attempt) -> list[Incident]:
    return list(
        Incident.objects.filter(attempt=attempt, status=Incident.Status.OPEN).order_by("-severity", "pk")
    )


# --- review -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReviewRow:
    attempt: Attempt
    incidents_total: int
    incidents_open: int
    warnings_total: int
    verdict: ReviewVerdict | None


def review_queue(*, user: Any, session: ExamSession, pending_only: bool = False) -> list[ReviewRow]:
    """Every visible attempt with its counts and verdict; the ones most in need of a look first."""
    qs = (
        attempts_for_user(user=user, session=session)
        .select_related("candidate", "proctor")
        .annotate(
            incidents_total=Count("incidents", distinct=True),
            incidents_open=Count(
                "incidents", filter=Q(incidents__status=Incident.Status.OPEN), distinct=True
            ),
        )
    )
    verdicts = {
        v.attempt_id: v for v in ReviewVerdict.objects.filter(attempt__in=qs).select_related("reviewer")
    }
    rows = [
        ReviewRow(
            attempt=a,
            incidents_total=a.incidents_total,
            incidents_open=a.incidents_open,
            warnings_total=sum(int(v) for v in (a.warnings or {}).values()),
            verdict=verdicts.get(a.pk),
        )
        for a in qs
    ]
    if pending_only:
        rows = [r for r in rows if r.verdict is None]
    rows.sort(
        key=lambda r: (
            r.verdict is not None,
            -r.incidents_open,
            -r.incidents_total,
            -r.warnings_total,
            r.attempt.candidate.ticket_number,
        )
    )
    return rows


def assignment_counts(*, session: ExamSession) -> list[tuple[Any, int]]:
    """(proctor, attempts assigned) for each proctor of the session, in name order."""
    counts = dict(
        Attempt.objects.filter(session=session)
        .values_list("proctor_id")
        .annotate(n=Count("pk"))
        .values_list("proctor_id", "n")
    )
    return [(p, counts.get(p.pk, 0)) for p in session.proctors.order_by("username", "pk")]


def audit_for(
    *, attempt: Attempt | None = None, session: ExamSession | None = None, limit: int = 500
) -> list[ProctorActionAudit]:
    qs = ProctorActionAudit.objects.all()
    if attempt is not None:
        qs = qs.filter(attempt=attempt)
    if session is not None:
        qs = qs.filter(session=session)
    return list(qs.order_by("-at", "-pk")[:limit])
