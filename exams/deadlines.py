"""Firing the rules' timers: stored deadlines (20 s away, 5 min break, 5 min lost device) and the
session-level ones (auto-submission at the end time, absent once the login window closed).

Everything here is safe to run any number of times, from any number of processes: each firing takes
the attempt's row lock, re-reads the deadline and returns early if it already fired or was cancelled.
Who calls it: the countdown Celery task and the beat sweep (production), the in-process scheduler
thread (embedded), ``manage.py exams_sweep``, and attempt_apply_action for the attempt it is about to
change (so server time decides even between two sweeps).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from django.db import transaction

from exams import clock, rules
from exams.errors import IllegalAction
from exams.models import Attempt, Deadline, ExamSession
from exams.services import apply_system_action_locked, lock_attempt, session_rules
from exams.state_machine import SITTING, Action, Status

logger = logging.getLogger(__name__)

KIND_ACTION: dict[str, Action] = {
    Deadline.Kind.LEAVE_RETURN: Action.LEAVE_TIMEOUT,
    Deadline.Kind.BREAK_RETURN: Action.BREAK_TIMEOUT,
    Deadline.Kind.DEVICE_RETURN: Action.DEVICE_TIMEOUT,
}
BATCH = 500


@dataclass(frozen=True)
class SweepResult:
    deadlines_fired: int
    time_up: int
    absent: int

    @property
    def total(self) -> int:
        return self.deadlines_fired + self.time_up + self.absent


def deadline_fire(*, deadline_id: int, now: datetime | None = None) -> bool:
    """Fire one deadline if it is past due and still pending. True only for the call that fired it.
    Strictly after ``due_at``: exactly 20 s away is still back in time (exams.rules.back_in_time)."""
    now = now or clock.now()
    attempt_id = Deadline.objects.filter(pk=deadline_id).values_list("attempt_id", flat=True).first()
    if attempt_id is None:
        return False
    with transaction.atomic():
        attempt = lock_attempt(attempt_id)
        deadline = Deadline.objects.select_for_update().get(pk=deadline_id)
        if not deadline.is_pending or deadline.due_at >= now:
            return False
        try:
            apply_system_action_locked(attempt, KIND_ACTION[deadline.kind], now=now, cause_evidence={})
        except IllegalAction:
            # The attempt moved on without cancelling it (cannot happen through the service, but a
            # deadline must never wedge the sweep): retire it without effect.
            Deadline.objects.filter(pk=deadline.pk).update(cancelled_at=now)
            return False
        Deadline.objects.filter(pk=deadline.pk).update(fired_at=now)
    logger.info("deadline %s (%s) fired for attempt %s", deadline_id, deadline.kind, attempt_id)
    return True


def _system_action(attempt_id: int, act: Action, expected: frozenset[Status], now: datetime) -> bool:
    with transaction.atomic():
        attempt = lock_attempt(attempt_id)
        if Status(attempt.status) not in expected:
            return False  # someone else got there first
        r = session_rules(attempt.session)
        if act == Action.TIME_UP and now < r.ends_at:
            return False
        if act == Action.MARK_ABSENT and now <= r.login_closes_at:
            return False
        apply_system_action_locked(attempt, act, now=now, cause_evidence={})
    return True


def attempt_fire_overdue(*, attempt_id: int, now: datetime | None = None) -> int:
    """Fire this attempt's overdue deadlines and the end-time auto-submission (not absence: a late
    check-in deserves login_window_closed, and the sweep marks absence)."""
    now = now or clock.now()
    fired = 0
    due = Deadline.objects.filter(
        attempt_id=attempt_id, fired_at__isnull=True, cancelled_at__isnull=True, due_at__lt=now
    ).order_by("due_at", "pk")
    for deadline_id in list(due.values_list("pk", flat=True)):
        fired += deadline_fire(deadline_id=deadline_id, now=now)
    sitting = Attempt.objects.filter(
        pk=attempt_id, status__in=[str(s) for s in SITTING], session__ends_at__lte=now
    ).exists()
    if sitting:
        fired += _system_action(attempt_id, Action.TIME_UP, SITTING, now)
    return fired


def deadline_fire_due(now: datetime | None = None) -> SweepResult:
    """One sweep over everything due. Exactly-once per deadline; running it twice changes nothing."""
    now = now or clock.now()
    fired = 0
    due_ids = list(
        Deadline.objects.filter(fired_at__isnull=True, cancelled_at__isnull=True, due_at__lt=now)
        .order_by("due_at", "pk")
        .values_list("pk", flat=True)[:BATCH]
    )
    for deadline_id in due_ids:
        fired += deadline_fire(deadline_id=deadline_id, now=now)

    time_up = 0
    for attempt_id in Attempt.objects.filter(
        status__in=[str(s) for s in SITTING], session__ends_at__lte=now
    ).values_list("pk", flat=True)[:BATCH]:
        time_up += _system_action(attempt_id, Action.TIME_UP, SITTING, now)

    absent = 0
    # Sessions whose login window may have closed; the exact per-session limit is checked in Python.
    sessions = ExamSession.objects.filter(starts_at__lte=now, attempts__status=Status.REGISTERED).distinct()
    for session in sessions:
        if (
            now
            <= rules.SessionRules(
                kind=session.kind,
                starts_at=session.starts_at,
                ends_at=session.ends_at,
                login_closes_after_s=session.login_closes_after_s,
            ).login_closes_at
        ):
            continue
        for attempt_id in session.attempts.filter(status=Status.REGISTERED).values_list("pk", flat=True)[
            :BATCH
        ]:
            absent += _system_action(attempt_id, Action.MARK_ABSENT, frozenset({Status.REGISTERED}), now)
    return SweepResult(deadlines_fired=fired, time_up=time_up, absent=absent)
