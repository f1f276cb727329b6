"""The attempt lifecycle as a pure transition table: ``(status, action) -> status``, plus who may send what.

No ORM, no clock, no Django settings: the table can be read, printed and tested on its own. Clients send
*actions*, never statuses; ``exams.services.attempt_apply_action`` is the only writer of ``Attempt.status``
and asks this module what an action does. Timing and counting rules (20 s away, 3 leaves, ...) live in
``exams.rules``; they can turn a legal transition into a refusal or add a consequence (a forced submission),
but they never invent a transition that is not in this table.

Status and action constants are stable wire values and are never translated; display labels are.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from django.utils.translation import gettext_lazy as _


class Status(StrEnum):
    REGISTERED = "registered"
    CHECKED_IN = "checked_in"
    IN_PROGRESS = "in_progress"
    ON_BREAK = "on_break"  # an approved break: the 5-minute return deadline runs
    DEVICE_LOST = "device_lost"  # phone or desktop gone: paused, the 5-minute reconnect deadline runs
    SUBMITTED = "submitted"
    FORCE_SUBMITTED = "force_submitted"
    DISQUALIFIED = "disqualified"
    ABSENT = "absent"


class Action(StrEnum):
    CONSENT = "consent"
    CHECK_IN = "check_in"
    START = "start"
    FOCUS_LOST = "focus_lost"
    FOCUS_REGAINED = "focus_regained"
    BREAK_REQUEST = "break_request"
    BREAK_APPROVE = "break_approve"
    BREAK_DENY = "break_deny"
    BREAK_RETURN = "break_return"
    SUBMIT = "submit"
    WARN = "warn"
    WARNING_ACK = "warning_ack"
    WARNING_CORRECT = "warning_correct"
    PHONE_LOST = "phone_lost"
    PHONE_RESTORED = "phone_restored"
    DESKTOP_LOST = "desktop_lost"
    DESKTOP_RESTORED = "desktop_restored"
    FORCE_SUBMIT = "force_submit"
    DISQUALIFY = "disqualify"
    INCIDENT_CONFIRM = "incident_confirm"
    INCIDENT_DISMISS = "incident_dismiss"
    # System actions, fired by deadlines and the session sweep (never accepted from a client).
    LEAVE_TIMEOUT = "leave_timeout"
    BREAK_TIMEOUT = "break_timeout"
    DEVICE_TIMEOUT = "device_timeout"
    TIME_UP = "time_up"
    MARK_ABSENT = "mark_absent"


class Role(StrEnum):
    CANDIDATE = "candidate"  # the desktop exam client (desktop token scoped to the attempt)
    PHONE = "phone"  # the phone monitor
    PROCTOR = "proctor"  # proctor, chief proctor, exam admin
    SYSTEM = "system"  # deadlines, sweeps, automated analysis, liveness detection


S = Status
A = Action

TERMINAL: frozenset[Status] = frozenset({S.SUBMITTED, S.FORCE_SUBMITTED, S.DISQUALIFIED, S.ABSENT})
# Statuses in which the candidate is sitting the exam (the end-of-exam auto-submission applies).
SITTING: frozenset[Status] = frozenset({S.CHECKED_IN, S.IN_PROGRESS, S.ON_BREAK, S.DEVICE_LOST})
_LIVE = (S.CHECKED_IN, S.IN_PROGRESS, S.ON_BREAK, S.DEVICE_LOST)
_STARTED = (S.IN_PROGRESS, S.ON_BREAK, S.DEVICE_LOST)
_REVIEWABLE = (*_LIVE, S.SUBMITTED, S.FORCE_SUBMITTED)


def _same(action: Action, statuses: tuple[Status, ...]) -> dict[tuple[Status, Action], Status]:
    return {(status, action): status for status in statuses}


# (status, action) -> next status. A missing pair is illegal. ``next == status`` means the action is
# recorded (a counter, a flag, a warning) without a status change; whether it is a repeat (no-op, no
# event) is decided by the service from the attempt's flags.
TRANSITIONS: dict[tuple[Status, Action], Status] = {
    **_same(A.CONSENT, (S.REGISTERED, *_LIVE)),
    (S.REGISTERED, A.CHECK_IN): S.CHECKED_IN,
    # Logging in again (after a crash) is a check-in too: no-op while sitting, restores a lost desktop.
    **_same(A.CHECK_IN, (S.CHECKED_IN, S.IN_PROGRESS, S.ON_BREAK)),
    (S.DEVICE_LOST, A.CHECK_IN): S.IN_PROGRESS,
    (S.CHECKED_IN, A.START): S.IN_PROGRESS,
    **_same(A.START, _STARTED),
    **_same(A.FOCUS_LOST, _STARTED),
    **_same(A.FOCUS_REGAINED, _STARTED),
    (S.IN_PROGRESS, A.BREAK_REQUEST): S.IN_PROGRESS,
    (S.IN_PROGRESS, A.BREAK_APPROVE): S.ON_BREAK,
    (S.ON_BREAK, A.BREAK_APPROVE): S.ON_BREAK,
    (S.IN_PROGRESS, A.BREAK_DENY): S.IN_PROGRESS,
    (S.ON_BREAK, A.BREAK_RETURN): S.IN_PROGRESS,
    (S.IN_PROGRESS, A.BREAK_RETURN): S.IN_PROGRESS,
    (S.IN_PROGRESS, A.SUBMIT): S.SUBMITTED,
    (S.SUBMITTED, A.SUBMIT): S.SUBMITTED,
    **_same(A.WARN, _LIVE),
    **_same(A.WARNING_ACK, _LIVE),
    **_same(A.WARNING_CORRECT, _LIVE),
    (S.IN_PROGRESS, A.PHONE_LOST): S.DEVICE_LOST,
    (S.IN_PROGRESS, A.DESKTOP_LOST): S.DEVICE_LOST,
    **_same(A.PHONE_LOST, (S.CHECKED_IN, S.ON_BREAK, S.DEVICE_LOST)),
    **_same(A.DESKTOP_LOST, (S.CHECKED_IN, S.ON_BREAK, S.DEVICE_LOST)),
    # Restored: back to in_progress once no device is missing (the service keeps device_lost otherwise).
    (S.DEVICE_LOST, A.PHONE_RESTORED): S.IN_PROGRESS,
    (S.DEVICE_LOST, A.DESKTOP_RESTORED): S.IN_PROGRESS,
    **_same(A.PHONE_RESTORED, (S.CHECKED_IN, S.IN_PROGRESS, S.ON_BREAK)),
    **_same(A.DESKTOP_RESTORED, (S.CHECKED_IN, S.IN_PROGRESS, S.ON_BREAK)),
    **{(s, A.FORCE_SUBMIT): S.FORCE_SUBMITTED for s in (*_LIVE, S.FORCE_SUBMITTED)},
    # Disqualification may follow a submission (a proctor reviewing the recording afterwards).
    **{(s, A.DISQUALIFY): S.DISQUALIFIED for s in (*_REVIEWABLE, S.DISQUALIFIED)},
    # Confirming a cheating incident disqualifies (the service picks DISQUALIFIED for cheating kinds).
    **_same(A.INCIDENT_CONFIRM, (*_REVIEWABLE, S.DISQUALIFIED)),
    **_same(A.INCIDENT_DISMISS, (*_REVIEWABLE, S.DISQUALIFIED)),
    (S.IN_PROGRESS, A.LEAVE_TIMEOUT): S.FORCE_SUBMITTED,
    (S.ON_BREAK, A.BREAK_TIMEOUT): S.FORCE_SUBMITTED,
    (S.DEVICE_LOST, A.DEVICE_TIMEOUT): S.FORCE_SUBMITTED,
    # The end time: the paper is submitted automatically (not a penalty: status submitted, reason time_up).
    **{(s, A.TIME_UP): S.SUBMITTED for s in _LIVE},
    (S.REGISTERED, A.MARK_ABSENT): S.ABSENT,
    # A system action arriving after the attempt already ended (a late duplicate, a second sweep): no-op.
    **{
        (S.FORCE_SUBMITTED, a): S.FORCE_SUBMITTED
        for a in (A.LEAVE_TIMEOUT, A.BREAK_TIMEOUT, A.DEVICE_TIMEOUT)
    },
    (S.SUBMITTED, A.TIME_UP): S.SUBMITTED,
    (S.ABSENT, A.MARK_ABSENT): S.ABSENT,
}

# Which roles may send which action. A proctor's decisions are never taken by a client.
ACTION_ROLES: dict[Action, frozenset[Role]] = {
    A.CONSENT: frozenset({Role.CANDIDATE, Role.PHONE}),
    A.CHECK_IN: frozenset({Role.CANDIDATE, Role.SYSTEM}),
    A.START: frozenset({Role.CANDIDATE}),
    A.FOCUS_LOST: frozenset({Role.CANDIDATE, Role.SYSTEM}),
    A.FOCUS_REGAINED: frozenset({Role.CANDIDATE, Role.SYSTEM}),
    A.BREAK_REQUEST: frozenset({Role.CANDIDATE, Role.PHONE}),
    A.BREAK_APPROVE: frozenset({Role.PROCTOR}),
    A.BREAK_DENY: frozenset({Role.PROCTOR}),
    A.BREAK_RETURN: frozenset({Role.CANDIDATE, Role.PHONE}),
    A.SUBMIT: frozenset({Role.CANDIDATE}),
    A.WARN: frozenset({Role.PROCTOR, Role.SYSTEM}),
    A.WARNING_ACK: frozenset({Role.CANDIDATE, Role.PHONE}),
    A.WARNING_CORRECT: frozenset({Role.PROCTOR, Role.SYSTEM}),
    A.PHONE_LOST: frozenset({Role.SYSTEM}),
    A.PHONE_RESTORED: frozenset({Role.SYSTEM, Role.PHONE}),
    A.DESKTOP_LOST: frozenset({Role.SYSTEM}),
    A.DESKTOP_RESTORED: frozenset({Role.SYSTEM, Role.CANDIDATE}),
    A.FORCE_SUBMIT: frozenset({Role.PROCTOR, Role.SYSTEM}),
    A.DISQUALIFY: frozenset({Role.PROCTOR, Role.SYSTEM}),
    A.INCIDENT_CONFIRM: frozenset({Role.PROCTOR}),
    A.INCIDENT_DISMISS: frozenset({Role.PROCTOR}),
    A.LEAVE_TIMEOUT: frozenset({Role.SYSTEM}),
    A.BREAK_TIMEOUT: frozenset({Role.SYSTEM}),
    A.DEVICE_TIMEOUT: frozenset({Role.SYSTEM}),
    A.TIME_UP: frozenset({Role.SYSTEM}),
    A.MARK_ABSENT: frozenset({Role.SYSTEM}),
}

CANDIDATE_ACTIONS: frozenset[Action] = frozenset(
    a for a, roles in ACTION_ROLES.items() if Role.CANDIDATE in roles
)
PROCTOR_ACTIONS: frozenset[Action] = frozenset(
    a for a, roles in ACTION_ROLES.items() if Role.PROCTOR in roles
)

STATUS_LABELS: dict[Status, object] = {
    S.REGISTERED: _("已报名"),
    S.CHECKED_IN: _("已签到"),
    S.IN_PROGRESS: _("考试中"),
    S.ON_BREAK: _("暂离（已批准）"),
    S.DEVICE_LOST: _("设备断开"),
    S.SUBMITTED: _("已交卷"),
    S.FORCE_SUBMITTED: _("强制交卷"),
    S.DISQUALIFIED: _("取消资格"),
    S.ABSENT: _("缺考"),
}
# English beside the Chinese source strings until a locale file exists (the API returns both).
STATUS_LABELS_EN: dict[Status, str] = {
    S.REGISTERED: "Registered",
    S.CHECKED_IN: "Checked in",
    S.IN_PROGRESS: "In progress",
    S.ON_BREAK: "On approved break",
    S.DEVICE_LOST: "Device disconnected",
    S.SUBMITTED: "Submitted",
    S.FORCE_SUBMITTED: "Force-submitted",
    S.DISQUALIFIED: "Disqualified",
    S.ABSENT: "Absent",
}


@dataclass(frozen=True)
class Transition:
    source: Status
    action: Action
    target: Status

    @property
    def changes_status(self) -> bool:
        return self.source != self.target


class TransitionRefused(Exception):
    """Pure-layer refusal; exams.services turns it into an ApplicationError with the same code."""

    def __init__(self, code: str, status: Status, action: str) -> None:
        self.code = code
        self.status = status
        self.action = action
        super().__init__(f"{code}: {action} in {status}")


def parse_action(raw: str) -> Action:
    try:
        return Action(raw)
    except ValueError:
        raise TransitionRefused("unknown_action", Status.REGISTERED, raw) from None


def transition(status: Status | str, action: Action | str, role: Role | str) -> Transition:
    """The transition for ``action`` sent by ``role`` in ``status``, or TransitionRefused with a code:
    ``unknown_action``, ``action_not_allowed`` (role), ``attempt_closed`` (terminal status) or
    ``illegal_action``."""
    current = Status(status)
    act = parse_action(str(action))
    if Role(role) not in ACTION_ROLES[act]:
        raise TransitionRefused("action_not_allowed", current, act)
    target = TRANSITIONS.get((current, act))
    if target is None:
        raise TransitionRefused("attempt_closed" if current in TERMINAL else "illegal_action", current, act)
    return Transition(source=current, action=act, target=target)


def is_terminal(status: Status | str) -> bool:
    return Status(status) in TERMINAL
