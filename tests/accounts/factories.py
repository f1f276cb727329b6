"""Small builders for account tests (exam sessions, candidates, valid ID numbers)."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.utils import timezone

from accounts import id_numbers
from accounts.models import Candidate
from accounts.services import candidate_create
from exams.models import Attempt, ExamSession, Subject


def id_number(i: int) -> str:
    """A valid (check digit) ID number, unique per i."""
    return id_numbers.make_valid(f"3201021990{i:07d}")


def ticket(i: int) -> str:
    return f"138{i:08d}"


def subject(code: str = "carbon-asset", name: str = "碳资产管理应用") -> Subject:
    return Subject.objects.get_or_create(code=code, defaults={"name": name, "name_en": code})[0]


def session(
    *,
    code: str = "carbon-asset",
    level: str = "junior",
    kind: str = ExamSession.Kind.FORMAL,
    starts_at: datetime | None = None,
    minutes: int = 120,
) -> ExamSession:
    start = starts_at or timezone.now() + timedelta(minutes=10)
    return ExamSession.objects.create(
        subject=subject(code),
        level=level,
        kind=kind,
        starts_at=start,
        ends_at=start + timedelta(minutes=minutes),
    )


def candidate(i: int = 1, name: str = "张三") -> Candidate:
    return candidate_create(ticket_number=ticket(i), id_number=id_number(i), name=name)


def register(c: Candidate, s: ExamSession) -> Attempt:
    return Attempt.objects.create(candidate=c, session=s)
