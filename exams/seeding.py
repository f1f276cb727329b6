"""Writes that load the seed schedule and the demo data (`manage.py load_schedule`, `load_demo`).

Both are idempotent: sessions are found by (subject, level, kind, start), candidates by ticket number,
users by username, attempts by (candidate, session).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

from django.contrib.auth import get_user_model
from django.db import transaction

from accounts import id_numbers
from accounts.models import Candidate, Role
from accounts.roles import role_assign
from accounts.services import candidate_create
from exams import clock
from exams.models import Attempt, ExamSession, Subject
from exams.schedule import EXAM_TZ, LEVELS, MOCK_ENDS, MOCK_STARTS, SUBJECTS, at, default_dates


@dataclass
class ScheduleResult:
    subjects_created: int = 0
    sessions_created: int = 0
    sessions: list[ExamSession] = field(default_factory=list)


@transaction.atomic
def schedule_load(*, mock_date: date, formal_date: date) -> ScheduleResult:
    """4 subjects × 3 levels: a mock day 09:00–18:00 and the formal day's four time slots (Asia/Shanghai)."""
    result = ScheduleResult()
    for seed in SUBJECTS:
        subject, created = Subject.objects.update_or_create(
            code=seed.code, defaults={"name": seed.name, "name_en": seed.name_en}
        )
        result.subjects_created += created
        for level in LEVELS:
            for kind, starts_at, ends_at in (
                (ExamSession.Kind.MOCK, at(mock_date, MOCK_STARTS), at(mock_date, MOCK_ENDS)),
                (ExamSession.Kind.FORMAL, at(formal_date, seed.starts), at(formal_date, seed.ends)),
            ):
                session, created = ExamSession.objects.get_or_create(
                    subject=subject,
                    level=level,
                    kind=kind,
                    starts_at=starts_at,
                    is_demo=False,
                    defaults={"ends_at": ends_at},
                )
                result.sessions_created += created
                result.sessions.append(session)
    return result


# Demo people. Ticket numbers are mobile-number shaped (the notice: ticket = registration phone number).
DEMO_NAMES = ("张伟", "王芳", "李娜", "刘洋", "陈静", "杨磊", "赵敏", "黄勇", "周婷", "吴强", "徐丽", "孙杰")
DEMO_PASSWORDS = {"proctor": "proctor-demo", "admin": "admin-demo"}


@dataclass(frozen=True)
class DemoCandidate:
    name: str
    ticket_number: str
    id_number: str  # demo data only: printed so a person can log in to the desktop client
    attempt_id: int


@dataclass
class DemoResult:
    session: ExamSession
    candidates: list[DemoCandidate]
    schedule: ScheduleResult


def demo_ticket(index: int) -> str:
    return f"1380000{index:04d}"


def demo_id_number(index: int) -> str:
    return id_numbers.make_valid(f"11010119900101{index:03d}")


def _demo_session(now_minutes_ahead: int) -> ExamSession:
    """The demo's formal session, starting a few minutes from now; reused while check-in is still open
    (so re-running `make run` keeps the attempts), replaced once its login window closed."""
    now = clock.now()
    current = (
        ExamSession.objects.filter(is_demo=True, kind=ExamSession.Kind.FORMAL).order_by("-starts_at").first()
    )
    if current is not None and now <= current.starts_at + timedelta(seconds=current.login_closes_after_s):
        return current
    starts_at = (now + timedelta(minutes=now_minutes_ahead)).replace(second=0, microsecond=0)
    subject = Subject.objects.get(code=SUBJECTS[0].code)
    return ExamSession.objects.create(
        subject=subject,
        level="junior",
        kind=ExamSession.Kind.FORMAL,
        starts_at=starts_at,
        ends_at=starts_at + timedelta(hours=2),
        is_demo=True,
    )


@transaction.atomic
def demo_load(*, count: int = 12, starts_in_minutes: int = 5) -> DemoResult:
    mock_date, formal_date = default_dates(clock.now().astimezone(EXAM_TZ).date())
    schedule = schedule_load(mock_date=mock_date, formal_date=formal_date)
    session = _demo_session(starts_in_minutes)

    user_model = get_user_model()
    proctor, created = user_model.objects.get_or_create(username="proctor", defaults={"is_staff": False})
    if created:
        proctor.set_password(DEMO_PASSWORDS["proctor"])
        proctor.save()
    role_assign(user=proctor, role=Role.PROCTOR)
    admin, created = user_model.objects.get_or_create(
        username="admin", defaults={"is_staff": True, "is_superuser": True}
    )
    if created:
        admin.set_password(DEMO_PASSWORDS["admin"])
        admin.save()
    role_assign(user=admin, role=Role.EXAM_ADMIN)
    session.proctors.add(proctor)

    candidates = []
    for index, name in enumerate(DEMO_NAMES[:count], start=1):
        ticket, id_number = demo_ticket(index), demo_id_number(index)
        candidate = Candidate.objects.filter(ticket_number=ticket).first() or candidate_create(
            ticket_number=ticket, id_number=id_number, name=name
        )
        attempt, _ = Attempt.objects.get_or_create(
            candidate=candidate, session=session, defaults={"proctor": proctor}
        )
        candidates.append(
            DemoCandidate(name=name, ticket_number=ticket, id_number=id_number, attempt_id=attempt.pk)
        )
    return DemoResult(session=session, candidates=candidates, schedule=schedule)
