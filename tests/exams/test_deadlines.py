"""Deadlines are rows: they fire after a restart, exactly once, in every profile; concurrent actions
never double-count."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.utils import timezone

from config.errors import ApplicationError
from exams import clock
from exams.deadlines import deadline_fire, deadline_fire_due
from exams.events import verify_chain
from exams.models import Attempt, AttemptEvent, Deadline
from exams.scheduler import DeadlineScheduler
from tests import services
from tests.conftest import ROOT
from tests.exams.helpers import act, make_attempt, make_session, start_attempt


def _kinds(attempt: Attempt) -> list[str]:
    return list(AttemptEvent.objects.filter(attempt=attempt).order_by("seq").values_list("kind", flat=True))


def _overdue_leave(seconds_ago: float = 60) -> Attempt:
    """An attempt whose 20-second leave deadline fell due ``seconds_ago - 20`` seconds ago (real time),
    created by this process, which then 'goes down' (no sweep ran)."""
    real_now = timezone.now()
    session = make_session(starts_at=real_now - timedelta(minutes=10))
    attempt = make_attempt(session)
    clock.freeze(real_now - timedelta(minutes=11))
    act(attempt, "check_in")
    clock.freeze(real_now - timedelta(seconds=seconds_ago + 1))
    act(attempt, "start", data={"consent": True})
    clock.freeze(real_now - timedelta(seconds=seconds_ago))
    act(attempt, "focus_lost")
    clock.unfreeze()
    return attempt


@pytest.mark.django_db
def test_firing_twice_changes_nothing() -> None:
    attempt = _overdue_leave()
    deadline = Deadline.objects.get(attempt=attempt)
    assert deadline_fire(deadline_id=deadline.pk) is True
    attempt.refresh_from_db()
    after_first = (attempt.status, attempt.event_count, attempt.last_event_hash)
    assert deadline_fire(deadline_id=deadline.pk) is False
    assert deadline_fire_due().total == 0
    attempt.refresh_from_db()
    assert (attempt.status, attempt.event_count, attempt.last_event_hash) == after_first
    assert attempt.status == "force_submitted"
    assert _kinds(attempt).count("leave_timeout") == 1


@pytest.mark.django_db
def test_a_deadline_not_yet_due_does_not_fire() -> None:
    attempt = start_attempt(make_attempt(), at_s=600)
    act(attempt, "focus_lost")
    deadline = Deadline.objects.get(attempt=attempt)
    assert deadline_fire(deadline_id=deadline.pk) is False
    deadline.refresh_from_db()
    assert deadline.is_pending


@pytest.mark.django_db(transaction=True)
def test_deadline_due_while_down_fires_in_a_fresh_process_once(server_env: dict[str, str]) -> None:
    attempt = _overdue_leave()
    cmd = [sys.executable, "manage.py", "exams_sweep"]
    first = subprocess.run(
        cmd, cwd=ROOT, env=server_env, capture_output=True, text=True, timeout=120, check=True
    )
    assert first.stdout.strip() == "fired: deadlines 1, time_up 0, absent 0"
    assert deadline_fire_due().total == 0  # a second sweep, anywhere, changes nothing
    attempt.refresh_from_db()
    assert (attempt.status, attempt.status_reason) == ("force_submitted", "left_screen_timeout")
    assert _kinds(attempt)[-1] == "leave_timeout"
    assert _kinds(attempt).count("leave_timeout") == 1


@pytest.mark.django_db(transaction=True)
def test_a_new_scheduler_instance_fires_what_fell_due_before_it_existed() -> None:
    attempt = _overdue_leave()
    scheduler = DeadlineScheduler(interval=0.05)
    scheduler.start()
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and scheduler.sweeps < 3:
            time.sleep(0.05)
    finally:
        scheduler.stop()
    assert scheduler.sweeps >= 3
    attempt.refresh_from_db()
    assert attempt.status == "force_submitted"
    assert _kinds(attempt).count("leave_timeout") == 1


def _wait_for(predicate: Callable[[], bool], timeout: float) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.2)
    return predicate()


@pytest.mark.django_db(transaction=True)
def test_the_embedded_server_runs_the_scheduler(live_server_process: services.Process) -> None:
    attempt = _overdue_leave()

    def fired() -> bool:
        return Attempt.objects.get(pk=attempt.pk).status == "force_submitted"

    assert _wait_for(fired, 15), live_server_process.log_tail()
    assert _kinds(attempt).count("leave_timeout") == 1


def _in_threads(n: int, work: Callable[[], Any]) -> list[Any]:
    barrier = threading.Barrier(n)
    results: list[Any] = []
    lock = threading.Lock()

    def run() -> None:
        barrier.wait()
        try:
            outcome: Any = work()
        except ApplicationError as exc:
            outcome = exc.code
        finally:
            connection.close()
        with lock:
            results.append(outcome)

    threads = [threading.Thread(target=run) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return results


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_concurrent_focus_events_never_double_count() -> None:
    attempt = start_attempt(make_attempt(), at_s=600)
    _in_threads(4, lambda: act(attempt, "focus_lost", actor="candidate"))
    assert _kinds(attempt).count("focus_lost") == 1
    assert Deadline.objects.filter(attempt=attempt).count() == 1
    clock.freeze(clock.now() + timedelta(seconds=3))
    _in_threads(4, lambda: act(attempt, "focus_regained", actor="candidate"))
    attempt.refresh_from_db()
    assert (attempt.status, attempt.screen_leaves) == ("in_progress", 1)
    assert _kinds(attempt).count("focus_regained") == 1
    assert verify_chain(attempt) == []


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_return_racing_the_deadline_is_one_outcome() -> None:
    attempt = start_attempt(make_attempt(), at_s=600)
    act(attempt, "focus_lost")
    clock.freeze(clock.now() + timedelta(seconds=20.1))
    results = _in_threads(
        4,
        lambda: deadline_fire_due() if threading.get_ident() % 2 else act(attempt, "focus_regained"),
    )
    assert len(results) == 4
    attempt.refresh_from_db()
    assert (attempt.status, attempt.status_reason, attempt.screen_leaves) == (
        "force_submitted",
        "left_screen_timeout",
        0,
    )
    assert _kinds(attempt).count("leave_timeout") == 1


@pytest.mark.production_only
@pytest.mark.django_db(transaction=True)
def test_a_real_celery_worker_fires_the_countdown_deadline(celery_worker_process: services.Process) -> None:
    real_now = timezone.now()
    attempt = make_attempt(make_session(starts_at=real_now - timedelta(minutes=5), leave_return_limit_s=2))
    act(attempt, "check_in")
    act(attempt, "start", data={"consent": True})
    act(attempt, "focus_lost")  # queues exams.fire_deadline with a 2-second countdown

    def fired() -> bool:
        return Attempt.objects.get(pk=attempt.pk).status == "force_submitted"

    assert _wait_for(fired, 30), celery_worker_process.log_tail()
    assert Deadline.objects.get(attempt=attempt).fired_at is not None
    assert "exams.fire_deadline" in celery_worker_process.log_path.read_text()
    assert _kinds(attempt).count("leave_timeout") == 1


@pytest.mark.production_only
@pytest.mark.django_db(transaction=True)
def test_a_worker_started_after_the_deadline_fires_it_once(server_env: dict[str, str], tmp_path: Any) -> None:
    attempt = _overdue_leave()  # its countdown task waits in the broker: no worker is running
    worker = services.start_celery_worker(server_env, log_dir=tmp_path)
    try:

        def fired() -> bool:
            return Attempt.objects.get(pk=attempt.pk).status == "force_submitted"

        assert _wait_for(fired, 30), worker.log_tail()
    finally:
        worker.stop()
    assert deadline_fire_due().total == 0
    assert _kinds(attempt).count("leave_timeout") == 1
