"""Builders for exam tests: a session at a fixed start, candidates, attempts placed in a status."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta
from typing import Any

from django.contrib.auth import get_user_model

from accounts import id_numbers
from accounts.services import candidate_create
from exams import clock
from exams.models import Attempt, AttemptEvent, Deadline, ExamSession, Subject
from exams.schedule import EXAM_TZ
from exams.services import Actor, attempt_apply_action

START = datetime(2030, 6, 1, 8, 30, tzinfo=EXAM_TZ)
_counter = itertools.count(1)


def make_session(
    *, kind: str = ExamSession.Kind.FORMAL, starts_at: datetime = START, **rules: Any
) -> ExamSession:
    subject, _ = Subject.objects.get_or_create(code="carbon-asset", defaults={"name": "碳资产管理应用"})
    return ExamSession.objects.create(
        subject=subject,
        level="junior",
        kind=kind,
        starts_at=starts_at,
        ends_at=starts_at + timedelta(hours=2),
        **rules,
    )


def make_attempt(session: ExamSession | None = None, **session_rules: Any) -> Attempt:
    session = session or make_session(**session_rules)
    n = next(_counter)
    candidate = candidate_create(
        ticket_number=f"139{n:08d}",
        id_number=id_numbers.make_valid(f"32010119850101{n % 1000:03d}"),
        name=f"考生{n}",
    )
    return Attempt.objects.create(candidate=candidate, session=session)


def at(offset_s: float, session: ExamSession | None = None) -> datetime:
    """A moment relative to the session start (START by default)."""
    return (session.starts_at if session else START) + timedelta(seconds=offset_s)


def act(attempt: Attempt, action: str, actor: Any = None, **kwargs: Any) -> Attempt:
    who = actor or (proctor_actor() if action in PROCTOR_ONLY else Actor.candidate())
    return attempt_apply_action(attempt_id=attempt.pk, action=action, actor=who, **kwargs)


def proctor_actor() -> Actor:
    user, _ = get_user_model().objects.get_or_create(username="proctor-t")
    return Actor.proctor(user.pk)


PROCTOR_ONLY = {"break_approve", "break_deny", "incident_confirm", "incident_dismiss"}


def start_attempt(attempt: Attempt, *, at_s: float = 60) -> Attempt:
    """Check in 10 minutes before the start, start ``at_s`` after it (clock left there)."""
    clock.freeze(at(-600, attempt.session))
    act(attempt, "check_in")
    clock.freeze(at(at_s, attempt.session))
    return act(attempt, "start", data={"consent": True})


def snapshot(attempt: Attempt) -> tuple[Any, ...]:
    """Everything a refused action must leave unchanged."""
    attempt.refresh_from_db()
    return (
        attempt.status,
        attempt.status_reason,
        attempt.screen_leaves,
        dict(attempt.warnings),
        attempt.event_count,
        attempt.last_event_hash,
        AttemptEvent.objects.filter(attempt=attempt).count(),
        Deadline.objects.filter(attempt=attempt).count(),
    )
