"""The whole transition table, legal and illegal: pure, then through the single writer."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone

from config.errors import ApplicationError
from exams import clock
from exams.errors import IllegalAction
from exams.models import Attempt, Incident
from exams.services import Actor, attempt_apply_action
from exams.state_machine import (
    ACTION_ROLES,
    STATUS_LABELS,
    STATUS_LABELS_EN,
    TERMINAL,
    TRANSITIONS,
    Action,
    Role,
    Status,
    TransitionRefused,
    transition,
)
from tests.exams.helpers import at, make_attempt, snapshot

ALL_PAIRS = [(s, a) for s in Status for a in Action]
LEGAL = [(s, a) for s, a in ALL_PAIRS if (s, a) in TRANSITIONS]
ILLEGAL = [(s, a) for s, a in ALL_PAIRS if (s, a) not in TRANSITIONS]


def allowed_role(action: Action) -> Role:
    return sorted(ACTION_ROLES[action])[0]


def actor_for(role: Role) -> Actor:
    if role != Role.PROCTOR:
        return Actor(role)
    user, _ = get_user_model().objects.get_or_create(username="proctor-t")
    return Actor.proctor(user.pk)


def test_every_action_has_roles_and_every_status_a_label() -> None:
    assert set(ACTION_ROLES) == set(Action)
    assert set(STATUS_LABELS) == set(Status) == set(STATUS_LABELS_EN)
    # Terminal statuses never lead back to a sitting status.
    for (source, _action), target in TRANSITIONS.items():
        if source in TERMINAL:
            assert target in TERMINAL


@pytest.mark.parametrize(("status", "action"), LEGAL, ids=[f"{s}-{a}" for s, a in LEGAL])
def test_legal_pair(status: Status, action: Action) -> None:
    step = transition(status, action, allowed_role(action))
    assert (step.source, step.action, step.target) == (status, action, TRANSITIONS[(status, action)])


@pytest.mark.parametrize(("status", "action"), ILLEGAL, ids=[f"{s}-{a}" for s, a in ILLEGAL])
def test_illegal_pair(status: Status, action: Action) -> None:
    with pytest.raises(TransitionRefused) as err:
        transition(status, action, allowed_role(action))
    assert err.value.code == ("attempt_closed" if status in TERMINAL else "illegal_action")


ROLE_REFUSALS = [(a, r) for a in Action for r in Role if r not in ACTION_ROLES[a]]


@pytest.mark.parametrize(("action", "role"), ROLE_REFUSALS, ids=[f"{a}-by-{r}" for a, r in ROLE_REFUSALS])
def test_role_may_not_send_action(action: Action, role: Role) -> None:
    with pytest.raises(TransitionRefused) as err:
        transition(Status.IN_PROGRESS, action, role)
    assert err.value.code == "action_not_allowed"


def test_unknown_action_and_clients_cannot_send_statuses() -> None:
    for raw in ("explode", "in_progress", "submitted"):
        with pytest.raises(TransitionRefused) as err:
            transition(Status.IN_PROGRESS, raw, Role.CANDIDATE)
        assert err.value.code == "unknown_action"


# --- Through attempt_apply_action: a refused pair writes nothing; a legal one lands on its target ----------


def _place(attempt: Attempt, status: Status, **flags: Any) -> Attempt:
    """Test set-up only: put an attempt in a status without the history (the service is the only
    writer in the product)."""
    Attempt.objects.filter(pk=attempt.pk).update(status=str(status), started_at=timezone.now(), **flags)
    attempt.refresh_from_db()
    return attempt


def _moment(status: Status, action: Action) -> int:
    if status == Status.REGISTERED:
        return -600  # inside the login window, before the start
    if status == Status.CHECKED_IN and action == Action.START:
        return 60
    return 40 * 60  # mid-exam: submission allowed


@pytest.mark.django_db
@pytest.mark.parametrize(("status", "action"), ILLEGAL, ids=[f"{s}-{a}" for s, a in ILLEGAL])
def test_illegal_pair_through_the_service_changes_nothing(status: Status, action: Action) -> None:
    attempt = _place(make_attempt(), status)
    clock.freeze(at(_moment(status, action)))
    before = snapshot(attempt)
    data: dict[str, Any] | None = None
    if action in (Action.INCIDENT_CONFIRM, Action.INCIDENT_DISMISS):
        data = {"incident_id": 1}
    if action in (Action.WARN, Action.WARNING_CORRECT):
        data = {"category": "camera"}
    with pytest.raises(ApplicationError) as err:
        attempt_apply_action(
            attempt_id=attempt.pk, action=str(action), actor=actor_for(allowed_role(action)), data=data
        )
    expected = "attempt_closed" if status in TERMINAL else "illegal_action"
    if status == Status.ABSENT and action == Action.CHECK_IN:
        expected = "login_window_closed"  # an absent candidate logging in gets the rule's own code
    else:
        assert isinstance(err.value, IllegalAction)
    assert err.value.code == expected
    assert snapshot(attempt) == before


def _preconditions(attempt: Attempt, status: Status, action: Action) -> dict[str, Any]:
    """Flags that make the legal pair do its real work (not a repeat), and the action's data."""
    flags: dict[str, Any] = {}
    data: dict[str, Any] | None = None
    if action in (Action.BREAK_APPROVE, Action.BREAK_DENY) and status == Status.IN_PROGRESS:
        flags["break_requested_at"] = timezone.now()
    if action == Action.FOCUS_REGAINED and status == Status.IN_PROGRESS:
        flags["focus_lost_at"] = at(40 * 60 - 5)
    if status == Status.DEVICE_LOST:
        flags["lost_devices"] = (
            ["desktop"] if action in (Action.CHECK_IN, Action.DESKTOP_RESTORED) else ["phone"]
        )
    if action in (Action.WARN, Action.WARNING_CORRECT):
        data = {"category": "camera"}
    if action in (Action.INCIDENT_CONFIRM, Action.INCIDENT_DISMISS):
        incident = Incident.objects.create(
            attempt=attempt, kind="hat", first_seen_at=timezone.now(), last_seen_at=timezone.now()
        )
        data = {"incident_id": incident.pk}
    if action == Action.START:
        data = {"consent": True}
    _place(attempt, status, **flags)
    return {"data": data}


@pytest.mark.django_db
@pytest.mark.parametrize(("status", "action"), LEGAL, ids=[f"{s}-{a}" for s, a in LEGAL])
def test_legal_pair_through_the_service_reaches_its_target(status: Status, action: Action) -> None:
    attempt = make_attempt()
    kwargs = _preconditions(attempt, status, action)
    if action == Action.TIME_UP:
        clock.freeze(at(2 * 3600))
    elif action == Action.MARK_ABSENT:
        clock.freeze(at(16 * 60))
    else:
        clock.freeze(at(_moment(status, action)))
    attempt_apply_action(
        attempt_id=attempt.pk, action=str(action), actor=actor_for(allowed_role(action)), **kwargs
    )
    attempt.refresh_from_db()
    assert attempt.status == TRANSITIONS[(status, action)]
