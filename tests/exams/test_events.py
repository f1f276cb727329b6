"""Hash-chained events: an edited, removed or reordered event is reported by `manage.py verify_events`."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.db import connection

from exams.events import verify_chain
from exams.models import Attempt, AttemptEvent
from tests.exams.helpers import act, make_attempt, start_attempt

pytestmark = pytest.mark.django_db


def _attempt_with_history() -> Attempt:
    attempt = start_attempt(make_attempt(), at_s=600)
    act(attempt, "focus_lost")
    act(attempt, "focus_regained")
    attempt.refresh_from_db()
    assert attempt.event_count == 5  # check_in, consent, start, focus_lost, focus_regained
    return attempt


def _verify(capsys: pytest.CaptureFixture[str], attempt: Attempt) -> tuple[int, str]:
    try:
        call_command("verify_events", attempt=attempt.pk)
    except SystemExit as exc:
        return int(exc.code or 0), capsys.readouterr().err
    return 0, capsys.readouterr().out


def _sql(statement: str, params: list[str | int]) -> None:
    with connection.cursor() as cursor:
        cursor.execute(statement, params)


def test_intact_chain_verifies(capsys: pytest.CaptureFixture[str]) -> None:
    attempt = _attempt_with_history()
    code, out = _verify(capsys, attempt)
    assert (code, out.strip()) == (0, "OK: 1 attempt(s), 5 event(s), every chain intact")


def test_edited_event_is_reported(capsys: pytest.CaptureFixture[str]) -> None:
    attempt = _attempt_with_history()
    event = AttemptEvent.objects.get(attempt=attempt, seq=4)
    _sql(
        "UPDATE exams_attemptevent SET data = %s WHERE id = %s",
        ['{"leaves_counted": 0, "due_at": "x"}', event.pk],
    )
    code, err = _verify(capsys, attempt)
    assert code == 1
    assert f"TAMPERED attempt {attempt.pk}: event seq 4: hash_mismatch" in err


def test_edited_actor_is_reported(capsys: pytest.CaptureFixture[str]) -> None:
    attempt = _attempt_with_history()
    _sql(
        "UPDATE exams_attemptevent SET actor = %s WHERE attempt_id = %s AND seq = 1",
        ["proctor:9", attempt.pk],
    )
    assert [str(p) for p in verify_chain(attempt)] == [f"attempt {attempt.pk}: event seq 1: hash_mismatch"]


def test_removed_event_is_reported(capsys: pytest.CaptureFixture[str]) -> None:
    attempt = _attempt_with_history()
    _sql("DELETE FROM exams_attemptevent WHERE attempt_id = %s AND seq = 3", [attempt.pk])
    code, err = _verify(capsys, attempt)
    assert code == 1
    assert "event seq 4: sequence_gap" in err and "event seq 4: broken_link" in err
    assert "chain head: head_mismatch" in err


def test_removed_last_event_is_reported(capsys: pytest.CaptureFixture[str]) -> None:
    attempt = _attempt_with_history()
    _sql("DELETE FROM exams_attemptevent WHERE attempt_id = %s AND seq = 5", [attempt.pk])
    code, err = _verify(capsys, attempt)
    assert code == 1
    assert f"TAMPERED attempt {attempt.pk}: chain head: head_mismatch" in err


def test_reordered_events_are_reported(capsys: pytest.CaptureFixture[str]) -> None:
    attempt = _attempt_with_history()
    # Swap seq 4 and 5 (through a temporary value: (attempt, seq) is unique).
    _sql("UPDATE exams_attemptevent SET seq = 99 WHERE attempt_id = %s AND seq = 4", [attempt.pk])
    _sql("UPDATE exams_attemptevent SET seq = 4 WHERE attempt_id = %s AND seq = 5", [attempt.pk])
    _sql("UPDATE exams_attemptevent SET seq = 5 WHERE attempt_id = %s AND seq = 99", [attempt.pk])
    problems = {(p.seq, p.problem) for p in verify_chain(attempt)}
    assert {(4, "hash_mismatch"), (4, "broken_link"), (5, "hash_mismatch"), (5, "broken_link")} <= problems
    code, _ = _verify(capsys, attempt)
    assert code == 1


def test_all_attempts_are_checked_by_default(capsys: pytest.CaptureFixture[str]) -> None:
    good = _attempt_with_history()
    bad = _attempt_with_history()
    _sql("UPDATE exams_attemptevent SET cause = %s WHERE attempt_id = %s AND seq = 2", ["edited", bad.pk])
    with pytest.raises(SystemExit) as exc:
        call_command("verify_events")
    err = capsys.readouterr().err
    assert exc.value.code == 1
    assert f"attempt {bad.pk}: event seq 2: hash_mismatch" in err
    assert f"attempt {good.pk}:" not in err
