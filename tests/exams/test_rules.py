"""Every rule at its boundary, with the controllable clock (exams.clock)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from config.errors import ApplicationError
from exams import clock
from exams.deadlines import deadline_fire_due
from exams.models import Attempt, AttemptEvent, AttemptWarning, Deadline, ExamSession, Incident, MakeupRecord
from exams.services import Actor, incident_clear, incident_report
from tests.exams.helpers import act, at, make_attempt, proctor_actor, snapshot, start_attempt

pytestmark = pytest.mark.django_db


def refused(attempt: Attempt, action: str, code: str, **kwargs: Any) -> None:
    before = snapshot(attempt)
    with pytest.raises(ApplicationError) as err:
        act(attempt, action, **kwargs)
    assert err.value.code == code
    assert snapshot(attempt) == before


def kinds(attempt: Attempt) -> list[str]:
    return list(AttemptEvent.objects.filter(attempt=attempt).order_by("seq").values_list("kind", flat=True))


# --- Login window: -30 min / +15 min ---


@pytest.mark.parametrize(
    ("offset_s", "code"),
    [(-30 * 60 - 1, "login_window_not_open"), (15 * 60 + 1, "login_window_closed")],
    ids=["30:01-before", "15:01-after"],
)
def test_check_in_outside_the_window_is_refused(offset_s: int, code: str) -> None:
    attempt = make_attempt()
    clock.freeze(at(offset_s))
    refused(attempt, "check_in", code)
    assert attempt.status == "registered"


@pytest.mark.parametrize(
    "offset_s", [-30 * 60 + 1, 0, 14 * 60 + 59], ids=["29:59-before", "start", "14:59-after"]
)
def test_check_in_inside_the_window(offset_s: int) -> None:
    attempt = make_attempt()
    clock.freeze(at(offset_s))
    attempt = act(attempt, "check_in")
    assert attempt.status == "checked_in"
    assert attempt.checked_in_at == at(offset_s)
    assert kinds(attempt) == ["check_in"]


def test_a_per_session_login_window() -> None:
    attempt = make_attempt(login_closes_after_s=5 * 60)
    clock.freeze(at(5 * 60 + 1))
    refused(attempt, "check_in", "login_window_closed")


def test_start_needs_the_start_time_and_the_monitoring_consent() -> None:
    attempt = make_attempt()
    clock.freeze(at(-600))
    act(attempt, "check_in")
    refused(attempt, "start", "exam_not_started", data={"consent": True})
    clock.freeze(at(1))
    refused(attempt, "start", "consent_required")
    attempt = act(attempt, "start", data={"consent": True})
    assert attempt.status == "in_progress"
    assert attempt.monitoring_consent_at == at(1)


# --- Submission: not in the first 30 min; auto-submission at the end ---


def test_submit_at_29_59_is_refused_and_at_30_01_accepted() -> None:
    attempt = start_attempt(make_attempt())
    clock.freeze(at(29 * 60 + 59))
    before = snapshot(attempt)
    with pytest.raises(ApplicationError) as err:
        act(attempt, "submit")
    assert (err.value.code, err.value.extra["seconds_until"]) == ("submit_too_early", 1)
    assert snapshot(attempt) == before
    clock.freeze(at(30 * 60 + 1))
    attempt = act(attempt, "submit")
    assert (attempt.status, attempt.status_reason, attempt.outcome) == (
        "submitted",
        "candidate_submitted",
        "to_be_scored",
    )
    events = AttemptEvent.objects.filter(attempt=attempt).count()
    act(attempt, "submit")  # a repeat: no-op, no event
    assert AttemptEvent.objects.filter(attempt=attempt).count() == events


def test_auto_submission_at_the_end_time() -> None:
    attempt = start_attempt(make_attempt())
    clock.freeze(at(2 * 3600 - 1))
    assert deadline_fire_due().time_up == 0
    clock.freeze(at(2 * 3600))
    assert deadline_fire_due().time_up == 1
    attempt.refresh_from_db()
    assert (attempt.status, attempt.status_reason) == ("submitted", "time_up")
    assert deadline_fire_due().total == 0
    refused(attempt, "focus_lost", "attempt_closed")


# --- Leaving the screen: 20 s, 3 leaves ---


def test_back_after_19_9_s_counts_one_leave() -> None:
    attempt = start_attempt(make_attempt(), at_s=600)
    act(attempt, "focus_lost")
    clock.freeze(at(600 + 19.9))
    assert deadline_fire_due().deadlines_fired == 0
    attempt = act(attempt, "focus_regained")
    assert (attempt.status, attempt.screen_leaves, attempt.focus_lost_at) == ("in_progress", 1, None)
    assert Deadline.objects.get(attempt=attempt).cancelled_at == at(619.9)
    assert kinds(attempt)[-2:] == ["focus_lost", "focus_regained"]


def test_back_after_20_1_s_is_a_forced_submission_without_re_entry() -> None:
    attempt = start_attempt(make_attempt(), at_s=600)
    act(attempt, "focus_lost")
    clock.freeze(at(600 + 20.1))
    # The client claims it was back after 5 s: recorded, never trusted.
    with pytest.raises(ApplicationError) as err:
        act(attempt, "focus_regained", client_time=(at(605)).isoformat())
    assert err.value.code == "attempt_closed"
    attempt.refresh_from_db()
    assert (attempt.status, attempt.status_reason, attempt.screen_leaves) == (
        "force_submitted",
        "left_screen_timeout",
        0,
    )
    assert kinds(attempt)[-1] == "leave_timeout"
    refused(attempt, "check_in", "attempt_closed")  # no re-entry
    refused(attempt, "start", "attempt_closed", data={"consent": True})


def test_the_sweep_fires_the_20_s_deadline_without_the_client() -> None:
    attempt = start_attempt(make_attempt(), at_s=600)
    act(attempt, "focus_lost")
    clock.freeze(at(620))
    assert deadline_fire_due().deadlines_fired == 0  # exactly 20 s: still in time
    clock.freeze(at(620.1))
    assert deadline_fire_due().deadlines_fired == 1
    attempt.refresh_from_db()
    assert (attempt.status, attempt.status_reason) == ("force_submitted", "left_screen_timeout")


def test_the_third_leave_is_a_forced_submission() -> None:
    attempt = start_attempt(make_attempt(), at_s=600)
    for n in (1, 2, 3):
        clock.freeze(at(600 + n * 100))
        act(attempt, "focus_lost")
        clock.freeze(at(600 + n * 100 + 5))
        attempt = act(attempt, "focus_regained")
        assert attempt.screen_leaves == n
        assert attempt.status == ("in_progress" if n < 3 else "force_submitted")
    assert attempt.status_reason == "too_many_leaves"
    last = AttemptEvent.objects.filter(attempt=attempt).order_by("-seq").first()
    assert last is not None and (last.kind, last.actor, last.cause) == (
        "force_submit",
        "system",
        "too_many_leaves",
    )
    refused(attempt, "focus_lost", "attempt_closed")


def test_focus_lost_twice_is_one_leave_and_one_deadline() -> None:
    attempt = start_attempt(make_attempt(), at_s=600)
    act(attempt, "focus_lost")
    clock.freeze(at(602))
    before = snapshot(attempt)
    act(attempt, "focus_lost")
    assert snapshot(attempt) == before
    assert Deadline.objects.filter(attempt=attempt).count() == 1


# --- Break: request, approval, 5 minutes ---


def _on_break(attempt: Attempt) -> Attempt:
    start_attempt(attempt, at_s=600)
    act(attempt, "break_request", data={"reason": "上厕所"}, evidence={"snapshots": [41]})
    return act(attempt, "break_approve", data={"note": "ok"})


def test_break_approval_needs_a_request_and_a_proctor() -> None:
    attempt = start_attempt(make_attempt(), at_s=600)
    refused(attempt, "break_approve", "no_break_requested")
    act(attempt, "break_request", evidence={"snapshots": [41]})
    refused(attempt, "break_approve", "action_not_allowed", actor=Actor.candidate())
    attempt = act(attempt, "break_deny")
    assert (attempt.status, attempt.break_requested_at) == ("in_progress", None)


def test_back_from_break_at_4_59() -> None:
    attempt = _on_break(make_attempt())
    assert attempt.status == "on_break"
    approve = AttemptEvent.objects.get(attempt=attempt, kind="break_approve")
    assert approve.evidence == {"snapshots": [41]}  # the note shown to the camera
    clock.freeze(at(600 + 4 * 60 + 59))
    assert deadline_fire_due().deadlines_fired == 0
    attempt = act(attempt, "break_return")
    assert attempt.status == "in_progress"


def test_back_from_break_at_5_01_is_too_late() -> None:
    attempt = _on_break(make_attempt())
    clock.freeze(at(600 + 5 * 60 + 1))
    assert deadline_fire_due().deadlines_fired == 1
    attempt.refresh_from_db()
    assert (attempt.status, attempt.status_reason) == ("force_submitted", "break_timeout")
    refused(attempt, "break_return", "attempt_closed")


def test_away_from_the_screen_then_an_approved_break_is_not_a_leave() -> None:
    attempt = start_attempt(make_attempt(), at_s=600)
    act(attempt, "break_request")
    act(attempt, "focus_lost")
    clock.freeze(at(610))
    attempt = act(attempt, "break_approve")
    clock.freeze(at(640))  # 30 s after focus_lost: the leave deadline was cancelled by the approval
    assert deadline_fire_due().deadlines_fired == 0
    attempt.refresh_from_db()
    assert (attempt.status, attempt.screen_leaves) == ("on_break", 0)


# --- Lost phone or desktop: 5 minutes ---


@pytest.mark.parametrize("device", ["phone", "desktop"])
def test_device_back_at_4_59(device: str) -> None:
    attempt = start_attempt(make_attempt(), at_s=600)
    attempt = act(attempt, f"{device}_lost", actor=Actor.system())
    assert (attempt.status, attempt.lost_devices) == ("device_lost", [device])
    clock.freeze(at(600 + 4 * 60 + 59))
    # A crashed desktop comes back by logging in again; a phone by reconnecting.
    attempt = act(attempt, "check_in" if device == "desktop" else "phone_restored", actor=Actor.system())
    assert (attempt.status, attempt.lost_devices) == ("in_progress", [])


def test_device_back_at_5_01_is_too_late() -> None:
    attempt = start_attempt(make_attempt(), at_s=600)
    act(attempt, "phone_lost", actor=Actor.system())
    clock.freeze(at(600 + 5 * 60 + 1))
    # The overdue deadline fires first (server time decides), then the late reconnect is refused.
    with pytest.raises(ApplicationError) as err:
        act(attempt, "phone_restored", actor=Actor.system())
    assert err.value.code == "attempt_closed"
    attempt.refresh_from_db()
    assert (attempt.status, attempt.status_reason) == ("force_submitted", "device_lost_timeout")


def test_both_devices_lost_needs_both_back() -> None:
    attempt = start_attempt(make_attempt(), at_s=600)
    act(attempt, "phone_lost", actor=Actor.system())
    act(attempt, "desktop_lost", actor=Actor.system())
    attempt = act(attempt, "phone_restored", actor=Actor.system())
    assert (attempt.status, attempt.lost_devices) == ("device_lost", ["desktop"])
    attempt = act(attempt, "desktop_restored", actor=Actor.system())
    assert attempt.status == "in_progress"
    assert (
        Deadline.objects.filter(attempt=attempt, fired_at__isnull=True, cancelled_at__isnull=True).count()
        == 0
    )


# --- Warnings: 3 uncorrected in a category disqualify ---


def test_third_uncorrected_warning_in_a_category_disqualifies() -> None:
    attempt = start_attempt(make_attempt(), at_s=600)
    for category in ("appearance", "appearance", "camera", "camera"):
        attempt = act(
            attempt, "warn", actor=proctor_actor(), data={"category": category, "message": "请摘下耳机"}
        )
    assert attempt.status == "in_progress"
    assert attempt.warnings == {"appearance": 2, "camera": 2}
    attempt = act(attempt, "warning_ack")
    assert AttemptWarning.objects.filter(attempt=attempt, acked_at__isnull=True).count() == 0
    attempt = act(attempt, "warn", actor=proctor_actor(), data={"category": "appearance"})
    assert (attempt.status, attempt.status_reason, attempt.score_void, attempt.outcome) == (
        "disqualified",
        "warnings_appearance",
        True,
        "void",
    )


def test_corrected_warnings_do_not_count() -> None:
    attempt = start_attempt(make_attempt(), at_s=600)
    act(attempt, "warn", actor=proctor_actor(), data={"category": "camera"})
    act(attempt, "warn", actor=proctor_actor(), data={"category": "camera"})
    act(attempt, "warning_correct", actor=proctor_actor(), data={"category": "camera"})
    attempt = act(attempt, "warn", actor=proctor_actor(), data={"category": "camera"})
    assert (attempt.status, attempt.warnings) == ("in_progress", {"camera": 3})


def test_warning_data_is_validated() -> None:
    attempt = start_attempt(make_attempt(), at_s=600)
    refused(attempt, "warn", "invalid_action_data", actor=proctor_actor(), data={"category": "hair"})
    refused(
        attempt, "warn", "invalid_action_data", actor=proctor_actor(), data={"category": "camera", "x": 1}
    )
    refused(attempt, "warn", "invalid_action_data", actor=proctor_actor(), data={})


# --- Incidents: people seen or heard; automated reminders ---


def test_two_people_is_one_incident_for_a_proctor_and_confirming_disqualifies() -> None:
    attempt = start_attempt(make_attempt(), at_s=600)
    first = incident_report(attempt_id=attempt.pk, kind="multiple_people", seen_at=at(599), snapshot_id=7)
    clock.freeze(at(610))
    again = incident_report(attempt_id=attempt.pk, kind="multiple_people", seen_at=at(609), snapshot_id=8)
    assert again.pk == first.pk
    again.refresh_from_db()
    assert (again.occurrences, again.snapshot_ids, again.last_seen_at) == (2, [7, 8], at(610))
    attempt.refresh_from_db()
    assert (attempt.status, attempt.warnings) == ("in_progress", {})  # no automatic count: a proctor decides
    attempt = act(attempt, "incident_confirm", data={"incident_id": first.pk, "note": "两人同框"})
    assert (attempt.status, attempt.status_reason, attempt.score_void) == (
        "disqualified",
        "cheating_multiple_people",
        True,
    )
    last = AttemptEvent.objects.filter(attempt=attempt).order_by("-seq").first()
    assert last is not None and last.evidence == {"snapshots": [7, 8]}


def test_dismissed_incident_is_not_cheating() -> None:
    attempt = start_attempt(make_attempt(), at_s=600)
    incident = incident_report(attempt_id=attempt.pk, kind="multiple_voices", seen_at=at(600))
    attempt = act(attempt, "incident_dismiss", data={"incident_id": incident.pk})
    assert attempt.status == "in_progress"
    assert Incident.objects.get(pk=incident.pk).status == "dismissed"
    refused(attempt, "incident_confirm", "incident_already_decided", data={"incident_id": incident.pk})


def test_an_appearance_incident_reminds_automatically_and_clearing_it_corrects() -> None:
    attempt = start_attempt(make_attempt(), at_s=600)
    incident = incident_report(attempt_id=attempt.pk, kind="headphones", seen_at=at(600), snapshot_id=3)
    attempt.refresh_from_db()
    assert attempt.warnings == {"appearance": 1}
    warning = AttemptWarning.objects.get(attempt=attempt)
    assert (warning.incident_id, warning.issued_by, warning.corrected_at) == (incident.pk, "system", None)
    incident_clear(attempt_id=attempt.pk, kind="headphones", seen_at=at(620))
    warning.refresh_from_db()
    assert warning.corrected_at is not None
    assert kinds(attempt)[-4:] == ["incident_opened", "warn", "incident_ended", "warning_correct"]


# --- Mock exams, absence and makeup ---


def test_mock_exam_same_flow_never_scored() -> None:
    attempt = start_attempt(make_attempt(kind=ExamSession.Kind.MOCK), at_s=600)
    clock.freeze(at(31 * 60))
    attempt = act(attempt, "submit")
    assert (attempt.status, attempt.outcome) == ("submitted", "unscored")
    other = start_attempt(make_attempt(attempt.session), at_s=600)
    other = act(other, "disqualify", actor=proctor_actor(), data={"reason": "impersonation"})
    assert (other.status, other.status_reason, other.outcome) == ("disqualified", "impersonation", "unscored")


def test_missed_formal_exam_is_absent_with_a_makeup_fee() -> None:
    attempt = make_attempt(makeup_fee_yuan=150)
    mock = make_attempt(kind=ExamSession.Kind.MOCK)
    clock.freeze(at(15 * 60))
    assert deadline_fire_due().absent == 0  # the window is still open at exactly +15:00
    clock.freeze(at(15 * 60 + 1))
    assert deadline_fire_due().absent == 2
    attempt.refresh_from_db()
    assert (attempt.status, attempt.outcome) == ("absent", "absent")
    makeup = MakeupRecord.objects.get()
    assert (makeup.attempt_id, makeup.fee_yuan, makeup.reason) == (attempt.pk, 150, "absent")
    mock.refresh_from_db()
    assert mock.status == "absent"  # a missed mock: absent, but nothing to make up
    assert deadline_fire_due().total == 0
    refused(attempt, "check_in", "login_window_closed")


def test_default_makeup_fee_is_100_yuan() -> None:
    make_attempt()
    clock.freeze(at(16 * 60))
    deadline_fire_due()
    assert MakeupRecord.objects.get().fee_yuan == 100


def test_unknown_action_and_bad_client_time_are_refused() -> None:
    attempt = start_attempt(make_attempt(), at_s=600)
    refused(attempt, "become_submitted", "unknown_action")
    refused(attempt, "focus_lost", "invalid_action_data", client_time="yesterday")
    refused(attempt, "focus_lost", "invalid_action_data", client_time="2030-06-01T08:40:00")  # naive
    refused(attempt, "focus_lost", "invalid_action_data", evidence={"videos": [1]})


def test_client_time_is_recorded_not_used() -> None:
    attempt = start_attempt(make_attempt(), at_s=600)
    claimed = at(600) - timedelta(hours=3)
    act(attempt, "focus_lost", client_time=claimed.isoformat())
    event = AttemptEvent.objects.get(attempt=attempt, kind="focus_lost")
    assert (event.client_time, event.created_at) == (claimed, at(600))
    assert Deadline.objects.get(attempt=attempt).due_at == at(620)
