"""Writes for exams. ``attempt_apply_action`` is the single writer of ``Attempt.status``.

Every call: validate the input, fire what is already overdue for this attempt (server time decides, even
if no sweep ran yet), then under the attempt's row lock ask the pure table (exams.state_machine) and the
pure rules (exams.rules) what happens, append one hash-chained event per effect, and announce the events
after commit (exams.signals.attempt_changed). A repeat (focus_lost while already away, submit after
submitting) is a no-op: no write, no event.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F

from exams import action_data, clock, errors, rules
from exams.events import event_append
from exams.models import Attempt, AttemptWarning, Deadline, ExamSession, Incident, MakeupRecord
from exams.signals import attempt_changed
from exams.state_machine import (
    TERMINAL,
    Action,
    Role,
    Status,
    Transition,
    TransitionRefused,
    parse_action,
    transition,
)

logger = logging.getLogger(__name__)


# --- Who acts ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Actor:
    role: Role
    user_id: int | None = None

    @property
    def label(self) -> str:
        """What the event log stores: "candidate", "phone", "system" or "proctor:<user id>"."""
        return f"{self.role}:{self.user_id}" if self.user_id is not None else str(self.role)

    @classmethod
    def system(cls) -> Actor:
        return cls(Role.SYSTEM)

    @classmethod
    def candidate(cls) -> Actor:
        return cls(Role.CANDIDATE)

    @classmethod
    def phone(cls) -> Actor:
        return cls(Role.PHONE)

    @classmethod
    def proctor(cls, user_id: int) -> Actor:
        return cls(Role.PROCTOR, user_id)


def actor_coerce(actor: Any) -> Actor:
    """Accepts an Actor, a label ("system", "candidate", "phone", "proctor:5"), or a staff User."""
    if isinstance(actor, Actor):
        return actor
    if isinstance(actor, str):
        role, _, user = actor.partition(":")
        try:
            parsed = Role(role)
        except ValueError:
            raise errors.ActionNotAllowed(extra={"actor": "unknown"}) from None
        if parsed == Role.PROCTOR:
            if not user.isdigit():
                raise errors.ActionNotAllowed(extra={"actor": "proctor_without_user"})
            return Actor.proctor(int(user))
        return Actor(parsed)
    if getattr(actor, "is_authenticated", False) and getattr(actor, "pk", None) is not None:
        return Actor.proctor(int(actor.pk))  # a Django user acting is staff; the API checked the role
    if actor.__class__.__name__ == "Candidate":
        return Actor.candidate()
    raise errors.ActionNotAllowed(extra={"actor": "unknown"})


# --- The locked context one action works in ---------------------------------------------------------


def session_rules(session: ExamSession) -> rules.SessionRules:
    return rules.SessionRules(
        kind=session.kind,
        starts_at=session.starts_at,
        ends_at=session.ends_at,
        login_opens_before_s=session.login_opens_before_s,
        login_closes_after_s=session.login_closes_after_s,
        min_submit_after_s=session.min_submit_after_s,
        leave_return_limit_s=session.leave_return_limit_s,
        max_screen_leaves=session.max_screen_leaves,
        break_limit_s=session.break_limit_s,
        reconnect_limit_s=session.reconnect_limit_s,
        max_warnings_per_category=session.max_warnings_per_category,
        makeup_fee_yuan=session.makeup_fee_yuan,
    )


@dataclass
class _Ctx:
    attempt: Attempt
    rules: rules.SessionRules
    now: datetime
    actor: Actor
    client_time: datetime | None = None
    event_ids: list[int] = field(default_factory=list)

    def record(
        self,
        kind: str,
        *,
        cause: str = "",
        data: dict[str, Any] | None = None,
        evidence: dict[str, Any] | None = None,
        actor: Actor | None = None,
    ) -> int:
        event = event_append(
            attempt=self.attempt,
            kind=kind,
            actor=(actor or self.actor).label,
            cause=cause,
            data=data,
            evidence=evidence,
            client_time=self.client_time if actor is None else None,
        )
        self.event_ids.append(event.pk)
        return event.seq


def _lock_attempt(attempt_id: int) -> Attempt:
    """The attempt row, locked until the transaction ends.

    PostgreSQL: SELECT ... FOR UPDATE. SQLite ignores FOR UPDATE, so we start with a write (a no-op
    UPDATE): it takes SQLite's single write lock before anything is read, so a concurrent writer waits
    (busy timeout) instead of both reading the same counter."""
    if connection.vendor == "sqlite":
        Attempt.objects.filter(pk=attempt_id).update(event_count=F("event_count"))
    try:
        return Attempt.objects.select_for_update(of=("self",)).select_related("session").get(pk=attempt_id)
    except Attempt.DoesNotExist:
        raise errors.AttemptNotFound(extra={"attempt_id": attempt_id}) from None


def _announce(attempt_id: int, event_ids: list[int]) -> None:
    if not event_ids:
        return
    ids = list(event_ids)
    transaction.on_commit(lambda: attempt_changed.send(sender=Attempt, attempt_id=attempt_id, event_ids=ids))


def _refusal(exc: TransitionRefused) -> errors.IllegalAction:
    cls = errors.REFUSALS.get(exc.code, errors.IllegalAction)
    return cls(extra={"status": str(exc.status), "action": str(exc.action)})


# --- The single writer ------------------------------------------------------------------------------


def attempt_apply_action(
    *,
    attempt_id: int,
    action: str,
    actor: Any,
    data: dict[str, Any] | None = None,
    evidence: dict[str, Any] | None = None,
    client_time: datetime | str | None = None,
) -> Attempt:
    """Apply a client's, proctor's or the system's action; returns the attempt as it is afterwards.

    Raises exams.errors.IllegalAction (illegal_action, attempt_closed, action_not_allowed, unknown_action),
    RuleViolation subclasses (login_window_not_open, login_window_closed, exam_not_started, exam_over,
    submit_too_early, consent_required, no_break_requested, not_on_break), InvalidActionData or
    AttemptNotFound. A refused action writes nothing."""
    try:
        act = parse_action(action)
    except TransitionRefused as exc:
        raise _refusal(exc) from None
    who = actor_coerce(actor)
    cleaned = action_data.clean_data(act, data)
    clean_evidence = action_data.clean_evidence(evidence)
    sent_at = action_data.clean_client_time(client_time)

    # Deadlines already due fire first, in their own transaction: "back at 20.1 s" finds the attempt
    # force-submitted even if no sweep has run, and the firing stays committed if this action is refused.
    from exams.deadlines import attempt_fire_overdue

    attempt_fire_overdue(attempt_id=attempt_id)

    with transaction.atomic():
        attempt = _lock_attempt(attempt_id)
        ctx = _Ctx(attempt=attempt, rules=session_rules(attempt.session), now=clock.now(), actor=who)
        ctx.client_time = sent_at
        _apply(ctx, act, cleaned, clean_evidence)
        _announce(attempt.pk, ctx.event_ids)
    return attempt


def _apply(ctx: _Ctx, act: Action, data: dict[str, Any], evidence: dict[str, Any]) -> None:
    status = Status(ctx.attempt.status)
    if status == Status.ABSENT and act == Action.CHECK_IN:
        raise errors.LoginWindowClosed(extra={"closed_at": ctx.rules.login_closes_at.isoformat()})
    try:
        step = transition(status, act, ctx.actor.role)
    except TransitionRefused as exc:
        raise _refusal(exc) from None
    handler = _HANDLERS[act]
    handler(ctx, step, data, evidence)


def _set_status(ctx: _Ctx, status: Status, reason: str = "") -> dict[str, str]:
    before = ctx.attempt.status
    ctx.attempt.status = str(status)
    ctx.attempt.status_reason = reason
    return {"from": before, "to": str(status)}


def _save(ctx: _Ctx, *fields: str) -> None:
    ctx.attempt.save(update_fields=[*fields, "updated_at"])


# --- Deadlines (create / cancel; firing is exams.deadlines) -------------------------------------------


def _deadline_create(ctx: _Ctx, kind: str, due_at: datetime) -> Deadline:
    last = Deadline.objects.filter(attempt=ctx.attempt, kind=kind).order_by("-generation").first()
    deadline = Deadline.objects.create(
        attempt=ctx.attempt,
        kind=kind,
        generation=(last.generation + 1) if last else 1,
        due_at=due_at,
        created_at=ctx.now,
    )
    if not getattr(settings, "TASKS_IN_PROCESS", False):
        # Production: a countdown task fires it on time; the beat sweep is the safety net after a restart.
        from config.taskqueue import enqueue_on_commit
        from exams.tasks import fire_deadline

        countdown = max(0.0, (due_at - ctx.now).total_seconds())
        enqueue_on_commit(fire_deadline, deadline.pk, countdown=countdown)
    return deadline


def _deadline_cancel(ctx: _Ctx, *kinds: str) -> int:
    pending = Deadline.objects.filter(attempt=ctx.attempt, fired_at__isnull=True, cancelled_at__isnull=True)
    if kinds:
        pending = pending.filter(kind__in=kinds)
    return pending.update(cancelled_at=ctx.now)


# --- Ending an attempt ----------------------------------------------------------------------------------


def _finish(ctx: _Ctx, status: Status, reason: str) -> dict[str, str]:
    """Every terminal transition goes through here: deadlines cancelled, flags cleared, outcome set."""
    change = _set_status(ctx, status, reason)
    attempt = ctx.attempt
    attempt.finished_at = ctx.now
    attempt.focus_lost_at = None
    attempt.break_requested_at = None
    _deadline_cancel(ctx)
    if status == Status.ABSENT:
        attempt.outcome = "absent"
    elif not ctx.rules.scored:
        attempt.outcome = "unscored"  # mock exams are never scored, whatever happened
    elif status == Status.DISQUALIFIED:
        attempt.outcome = "void"
    else:
        attempt.outcome = "to_be_scored"
    if status == Status.DISQUALIFIED:
        attempt.score_void = True
    _save(
        ctx,
        "status",
        "status_reason",
        "finished_at",
        "focus_lost_at",
        "break_requested_at",
        "outcome",
        "score_void",
    )
    return change


def _escalate(ctx: _Ctx, act: Action, reason: str, evidence: dict[str, Any] | None = None) -> None:
    """A consequence the rules impose (3rd leave, 3rd warning, confirmed cheating): its own event, by
    the system, with the rule as its cause."""
    step = transition(ctx.attempt.status, act, Role.SYSTEM)
    change = _finish(ctx, step.target, reason)
    ctx.record(str(act), cause=reason, data=change, evidence=evidence, actor=Actor.system())


def _enter_device_lost_if_missing(ctx: _Ctx) -> None:
    """Whenever the attempt would be in progress while a device is still missing, it is paused instead
    (e.g. back from a break with the phone gone): the reconnect deadline starts now."""
    if ctx.attempt.status == Status.IN_PROGRESS and ctx.attempt.lost_devices:
        change = _set_status(ctx, Status.DEVICE_LOST, "device_lost")
        due = rules.reconnect_deadline(ctx.rules, ctx.now)
        _deadline_create(ctx, Deadline.Kind.DEVICE_RETURN, due)
        _save(ctx, "status", "status_reason")
        ctx.record(
            "device_lost",
            cause="device_still_missing",
            data={**change, "devices": list(ctx.attempt.lost_devices), "due_at": due.isoformat()},
            actor=Actor.system(),
        )


# --- Handlers: one per action ---------------------------------------------------------------------------

Handler = Callable[[_Ctx, Transition, dict[str, Any], dict[str, Any]], None]


def _consent(ctx: _Ctx, step: Transition, data: dict[str, Any], evidence: dict[str, Any]) -> None:
    if ctx.attempt.monitoring_consent_at is not None:
        return
    ctx.attempt.monitoring_consent_at = ctx.now
    _save(ctx, "monitoring_consent_at")
    ctx.record("consent", data={"accepted_at": ctx.now.isoformat()})


def _check_in(ctx: _Ctx, step: Transition, data: dict[str, Any], evidence: dict[str, Any]) -> None:
    if step.source == Status.REGISTERED:
        rules.check_login_window(ctx.rules, ctx.now)
        change = _set_status(ctx, Status.CHECKED_IN)
        ctx.attempt.checked_in_at = ctx.now
        _save(ctx, "status", "status_reason", "checked_in_at")
        ctx.record("check_in", data=change, evidence=evidence)
    elif step.source == Status.DEVICE_LOST and "desktop" in ctx.attempt.lost_devices:
        # Logging in again after a crash: the desktop is back.
        _device_restored(ctx, "desktop", evidence, kind="desktop_restored")
    # Otherwise a repeat login while sitting: nothing changes.


def _start(ctx: _Ctx, step: Transition, data: dict[str, Any], evidence: dict[str, Any]) -> None:
    if step.source != Status.CHECKED_IN:
        return
    rules.check_exam_running(ctx.rules, ctx.now)
    if ctx.attempt.monitoring_consent_at is None:
        if not data.get("consent"):
            raise errors.ConsentRequired()
        ctx.attempt.monitoring_consent_at = ctx.now
        ctx.record("consent", data={"accepted_at": ctx.now.isoformat(), "with": "start"})
    change = _set_status(ctx, Status.IN_PROGRESS)
    ctx.attempt.started_at = ctx.now
    _save(ctx, "status", "status_reason", "started_at", "monitoring_consent_at")
    ctx.record("start", data=change, evidence=evidence)
    _enter_device_lost_if_missing(ctx)


def _focus_lost(ctx: _Ctx, step: Transition, data: dict[str, Any], evidence: dict[str, Any]) -> None:
    # On a break or with a device lost, those deadlines govern; already away: a repeat.
    if step.source != Status.IN_PROGRESS or ctx.attempt.focus_lost_at is not None:
        return
    ctx.attempt.focus_lost_at = ctx.now
    due = rules.leave_deadline(ctx.rules, ctx.now)
    deadline = _deadline_create(ctx, Deadline.Kind.LEAVE_RETURN, due)
    _save(ctx, "focus_lost_at")
    ctx.record(
        "focus_lost",
        data={
            **data,
            "due_at": due.isoformat(),
            "deadline_id": deadline.pk,
            "leaves_counted": ctx.attempt.screen_leaves,
        },
        evidence=evidence,
    )


def _focus_regained(ctx: _Ctx, step: Transition, data: dict[str, Any], evidence: dict[str, Any]) -> None:
    lost_at = ctx.attempt.focus_lost_at
    if step.source != Status.IN_PROGRESS or lost_at is None:
        return
    if not rules.back_in_time(lost_at, ctx.now, ctx.rules.leave_return_limit_s):
        # The deadline row fires this too; checking here keeps the rule true even if it was lost.
        _escalate(ctx, Action.LEAVE_TIMEOUT, "left_screen_timeout")
        return
    ctx.attempt.focus_lost_at = None
    ctx.attempt.screen_leaves += 1
    _deadline_cancel(ctx, Deadline.Kind.LEAVE_RETURN)
    _save(ctx, "focus_lost_at", "screen_leaves")
    away_ms = int((ctx.now - lost_at).total_seconds() * 1000)
    ctx.record(
        "focus_regained",
        cause="screen_leave_counted",
        data={"leaves_counted": ctx.attempt.screen_leaves, "away_ms": away_ms},
        evidence=evidence,
    )
    if rules.leaves_exhausted(ctx.rules, ctx.attempt.screen_leaves):
        _escalate(ctx, Action.FORCE_SUBMIT, "too_many_leaves")


def _break_request(ctx: _Ctx, step: Transition, data: dict[str, Any], evidence: dict[str, Any]) -> None:
    if ctx.attempt.break_requested_at is not None:
        return
    ctx.attempt.break_requested_at = ctx.now
    ctx.attempt.break_request_evidence = evidence
    _save(ctx, "break_requested_at", "break_request_evidence")
    ctx.record("break_request", data=data, evidence=evidence)


def _break_approve(ctx: _Ctx, step: Transition, data: dict[str, Any], evidence: dict[str, Any]) -> None:
    if step.source == Status.ON_BREAK:
        return
    if ctx.attempt.break_requested_at is None:
        raise errors.NoBreakRequested()
    change = _set_status(ctx, Status.ON_BREAK, "break_approved")
    due = rules.break_deadline(ctx.rules, ctx.now)
    # Leaving the desk on an approved break is not leaving the screen.
    ctx.attempt.focus_lost_at = None
    _deadline_cancel(ctx, Deadline.Kind.LEAVE_RETURN)
    deadline = _deadline_create(ctx, Deadline.Kind.BREAK_RETURN, due)
    request_evidence = ctx.attempt.break_request_evidence
    ctx.attempt.break_requested_at = None
    _save(ctx, "status", "status_reason", "focus_lost_at", "break_requested_at")
    ctx.record(
        "break_approve",
        data={**change, **data, "due_at": due.isoformat(), "deadline_id": deadline.pk},
        evidence={**request_evidence, **evidence},
    )


def _break_deny(ctx: _Ctx, step: Transition, data: dict[str, Any], evidence: dict[str, Any]) -> None:
    if ctx.attempt.break_requested_at is None:
        raise errors.NoBreakRequested()
    ctx.attempt.break_requested_at = None
    _save(ctx, "break_requested_at")
    ctx.record("break_deny", data=data, evidence=evidence)


def _break_return(ctx: _Ctx, step: Transition, data: dict[str, Any], evidence: dict[str, Any]) -> None:
    if step.source != Status.ON_BREAK:
        return  # a repeat after returning
    change = _set_status(ctx, Status.IN_PROGRESS)
    _deadline_cancel(ctx, Deadline.Kind.BREAK_RETURN)
    ctx.attempt.focus_lost_at = None
    _save(ctx, "status", "status_reason", "focus_lost_at")
    ctx.record("break_return", data=change, evidence=evidence)
    _enter_device_lost_if_missing(ctx)


def _submit(ctx: _Ctx, step: Transition, data: dict[str, Any], evidence: dict[str, Any]) -> None:
    if step.source == Status.SUBMITTED:
        return
    rules.check_submit_allowed(ctx.rules, ctx.now)
    change = _finish(ctx, Status.SUBMITTED, "candidate_submitted")
    ctx.record("submit", data=change, evidence=evidence)


def _warn(ctx: _Ctx, step: Transition, data: dict[str, Any], evidence: dict[str, Any]) -> None:
    category = rules.validate_category(data["category"])
    incident = None
    if "incident_id" in data:
        incident = Incident.objects.filter(pk=data["incident_id"], attempt=ctx.attempt).first()
        if incident is None:
            raise errors.IncidentNotFound(extra={"incident_id": data["incident_id"]})
    counts = dict(ctx.attempt.warnings)
    counts[category] = int(counts.get(category, 0)) + 1
    ctx.attempt.warnings = counts
    _save(ctx, "warnings")
    warning = AttemptWarning.objects.create(
        attempt=ctx.attempt,
        category=category,
        message=data.get("message", ""),
        issued_by=ctx.actor.label,
        issued_at=ctx.now,
        event_seq=ctx.attempt.event_count + 1,
        incident=incident,
    )
    uncorrected = AttemptWarning.objects.filter(
        attempt=ctx.attempt, category=category, corrected_at__isnull=True
    ).count()
    ctx.record(
        "warn",
        cause=category,
        data={**data, "warning_id": warning.pk, "issued": counts[category], "uncorrected": uncorrected},
        evidence=evidence,
    )
    if rules.warnings_exhausted(ctx.rules, category, uncorrected):
        _escalate(ctx, Action.DISQUALIFY, f"warnings_{category}", evidence)


def _warning_ack(ctx: _Ctx, step: Transition, data: dict[str, Any], evidence: dict[str, Any]) -> None:
    pending = AttemptWarning.objects.filter(attempt=ctx.attempt, acked_at__isnull=True)
    if "warning_id" in data:
        pending = pending.filter(pk=data["warning_id"])
    ids = list(pending.values_list("pk", flat=True))
    if not ids:
        return
    AttemptWarning.objects.filter(pk__in=ids).update(acked_at=ctx.now)
    ctx.record("warning_ack", data={"warning_ids": ids}, evidence=evidence)


def _mark_corrected(ctx: _Ctx, category: str, cause: str, evidence: dict[str, Any] | None = None) -> None:
    ids = list(
        AttemptWarning.objects.filter(
            attempt=ctx.attempt, category=category, corrected_at__isnull=True
        ).values_list("pk", flat=True)
    )
    if not ids:
        return
    AttemptWarning.objects.filter(pk__in=ids).update(corrected_at=ctx.now)
    ctx.record(
        "warning_correct", cause=cause, data={"category": category, "warning_ids": ids}, evidence=evidence
    )


def _warning_correct(ctx: _Ctx, step: Transition, data: dict[str, Any], evidence: dict[str, Any]) -> None:
    _mark_corrected(ctx, rules.validate_category(data["category"]), "corrected", evidence)


_DEVICE_OF: dict[Action, str] = {
    Action.PHONE_LOST: "phone",
    Action.PHONE_RESTORED: "phone",
    Action.DESKTOP_LOST: "desktop",
    Action.DESKTOP_RESTORED: "desktop",
}


def _device_lost(ctx: _Ctx, step: Transition, data: dict[str, Any], evidence: dict[str, Any]) -> None:
    device = _DEVICE_OF[step.action]
    if device in ctx.attempt.lost_devices:
        return
    ctx.attempt.lost_devices = [*ctx.attempt.lost_devices, device]
    extra: dict[str, Any] = {"device": device}
    if step.source == Status.IN_PROGRESS:
        extra.update(_set_status(ctx, Status.DEVICE_LOST, f"{device}_lost"))
        # A crash is governed by the 5-minute reconnect rule, not the 20-second leave rule.
        ctx.attempt.focus_lost_at = None
        _deadline_cancel(ctx, Deadline.Kind.LEAVE_RETURN)
        due = rules.reconnect_deadline(ctx.rules, ctx.now)
        extra["due_at"] = due.isoformat()
        extra["deadline_id"] = _deadline_create(ctx, Deadline.Kind.DEVICE_RETURN, due).pk
    _save(ctx, "lost_devices", "status", "status_reason", "focus_lost_at")
    ctx.record(str(step.action), data=extra, evidence=evidence)


def _device_restored(ctx: _Ctx, device: str, evidence: dict[str, Any], *, kind: str) -> None:
    if device not in ctx.attempt.lost_devices:
        return
    ctx.attempt.lost_devices = [d for d in ctx.attempt.lost_devices if d != device]
    extra: dict[str, Any] = {"device": device}
    if ctx.attempt.status == Status.DEVICE_LOST and not ctx.attempt.lost_devices:
        extra.update(_set_status(ctx, Status.IN_PROGRESS))
        _deadline_cancel(ctx, Deadline.Kind.DEVICE_RETURN)
    _save(ctx, "lost_devices", "status", "status_reason")
    ctx.record(kind, data=extra, evidence=evidence)


def _device_restored_handler(
    ctx: _Ctx, step: Transition, data: dict[str, Any], evidence: dict[str, Any]
) -> None:
    _device_restored(ctx, _DEVICE_OF[step.action], evidence, kind=str(step.action))


def _force_submit(ctx: _Ctx, step: Transition, data: dict[str, Any], evidence: dict[str, Any]) -> None:
    if step.source == Status.FORCE_SUBMITTED:
        return
    reason = data.get("reason") or "proctor_decision"
    change = _finish(ctx, Status.FORCE_SUBMITTED, reason)
    ctx.record("force_submit", cause=reason, data={**change, **data}, evidence=evidence)


def _disqualify(ctx: _Ctx, step: Transition, data: dict[str, Any], evidence: dict[str, Any]) -> None:
    if step.source == Status.DISQUALIFIED:
        return
    reason = data.get("reason") or "proctor_decision"
    change = _finish(ctx, Status.DISQUALIFIED, reason)
    ctx.record("disqualify", cause=reason, data={**change, **data}, evidence=evidence)


def _incident_for(ctx: _Ctx, data: dict[str, Any]) -> Incident:
    incident = (
        Incident.objects.select_for_update().filter(pk=data["incident_id"], attempt=ctx.attempt).first()
    )
    if incident is None:
        raise errors.IncidentNotFound(extra={"incident_id": data["incident_id"]})
    return incident


def _incident_decide(ctx: _Ctx, step: Transition, data: dict[str, Any], evidence: dict[str, Any]) -> None:
    incident = _incident_for(ctx, data)
    decision = (
        Incident.Status.CONFIRMED if step.action == Action.INCIDENT_CONFIRM else Incident.Status.DISMISSED
    )
    if incident.status == decision:
        return  # a repeat
    if incident.status != Incident.Status.OPEN:
        raise errors.IllegalAction(
            "该异常已处理 (this incident was already decided).",
            code="incident_already_decided",
            extra={"incident_id": incident.pk, "status": incident.status},
        )
    incident.status = decision
    incident.decided_by_id = ctx.actor.user_id
    incident.decided_at = ctx.now
    incident.note = data.get("note", "")
    incident.save(update_fields=["status", "decided_by", "decided_at", "note"])
    snapshots = {"snapshots": list(incident.snapshot_ids)} if incident.snapshot_ids else {}
    ev = {**snapshots, **evidence}
    ctx.record(
        str(step.action),
        cause=incident.kind,
        data={"incident_id": incident.pk, "kind": incident.kind, "note": incident.note},
        evidence=ev,
    )
    if decision == Incident.Status.DISMISSED:
        # A false alarm must not count towards the 3 reminders it may have triggered.
        linked = list(
            AttemptWarning.objects.filter(incident=incident, corrected_at__isnull=True).values_list(
                "pk", flat=True
            )
        )
        if linked:
            AttemptWarning.objects.filter(pk__in=linked).update(corrected_at=ctx.now)
            ctx.record("warning_correct", cause="incident_dismissed", data={"warning_ids": linked})
    elif incident.kind in rules.CHEATING_KINDS and ctx.attempt.status != Status.DISQUALIFIED:
        _escalate(ctx, Action.DISQUALIFY, f"cheating_{incident.kind}", ev)


def _timeout(reason: str) -> Handler:
    def handler(ctx: _Ctx, step: Transition, data: dict[str, Any], evidence: dict[str, Any]) -> None:
        if step.source in TERMINAL:
            return  # already ended: a late or duplicate system action
        change = _finish(ctx, step.target, reason)
        ctx.record(str(step.action), cause=reason, data=change, evidence=evidence)

    return handler


def _mark_absent(ctx: _Ctx, step: Transition, data: dict[str, Any], evidence: dict[str, Any]) -> None:
    if step.source == Status.ABSENT:
        return
    change = _finish(ctx, Status.ABSENT, "no_check_in")
    ctx.record("mark_absent", cause="no_check_in", data=change)
    if ctx.rules.scored:
        session = ctx.attempt.session
        makeup, created = MakeupRecord.objects.get_or_create(
            attempt=ctx.attempt,
            defaults={
                "candidate_id": ctx.attempt.candidate_id,
                "subject_id": session.subject_id,
                "level": session.level,
                "fee_yuan": ctx.rules.makeup_fee_yuan,
                "reason": "absent",
                "created_at": ctx.now,
            },
        )
        if created:
            ctx.record(
                "makeup_eligible", cause="absent", data={"makeup_id": makeup.pk, "fee_yuan": makeup.fee_yuan}
            )


_HANDLERS: dict[Action, Handler] = {
    Action.CONSENT: _consent,
    Action.CHECK_IN: _check_in,
    Action.START: _start,
    Action.FOCUS_LOST: _focus_lost,
    Action.FOCUS_REGAINED: _focus_regained,
    Action.BREAK_REQUEST: _break_request,
    Action.BREAK_APPROVE: _break_approve,
    Action.BREAK_DENY: _break_deny,
    Action.BREAK_RETURN: _break_return,
    Action.SUBMIT: _submit,
    Action.WARN: _warn,
    Action.WARNING_ACK: _warning_ack,
    Action.WARNING_CORRECT: _warning_correct,
    Action.PHONE_LOST: _device_lost,
    Action.DESKTOP_LOST: _device_lost,
    Action.PHONE_RESTORED: _device_restored_handler,
    Action.DESKTOP_RESTORED: _device_restored_handler,
    Action.FORCE_SUBMIT: _force_submit,
    Action.DISQUALIFY: _disqualify,
    Action.INCIDENT_CONFIRM: _incident_decide,
    Action.INCIDENT_DISMISS: _incident_decide,
    Action.LEAVE_TIMEOUT: _timeout("left_screen_timeout"),
    Action.BREAK_TIMEOUT: _timeout("break_timeout"),
    Action.DEVICE_TIMEOUT: _timeout("device_lost_timeout"),
    Action.TIME_UP: _timeout("time_up"),
    Action.MARK_ABSENT: _mark_absent,
}


def apply_system_action_locked(
    attempt: Attempt, act: Action, *, now: datetime, cause_evidence: dict[str, Any]
) -> list[int]:
    """For exams.deadlines: apply a system action to an attempt already locked by the caller."""
    ctx = _Ctx(attempt=attempt, rules=session_rules(attempt.session), now=now, actor=Actor.system())
    _apply(ctx, act, {}, cause_evidence)
    _announce(attempt.pk, ctx.event_ids)
    return ctx.event_ids


lock_attempt = _lock_attempt


# --- Incidents (reported by the media pipeline and the monitor) ---------------------------------------


def incident_report(
    *,
    attempt_id: int,
    kind: str,
    severity: int = Incident.Severity.WARNING,
    seen_at: datetime | None = None,
    snapshot_id: int | None = None,
    evidence: dict[str, Any] | None = None,
) -> Incident:
    """One incident per continuous condition: extends the open one of the same kind, else opens one.

    Opening an incident in a counted category (appearance, camera) issues an automatic reminder (a
    ``warn`` by the system); people seen or heard (multiple_people / multiple_voices) wait for a proctor.
    ``seen_at`` is the capture time (evidence only); the incident's clock is the server's."""
    if not isinstance(kind, str) or not kind or len(kind) > 48:
        raise errors.InvalidActionData(extra={"field": "kind", "problem": "invalid"})
    if severity not in Incident.Severity.values:
        raise errors.InvalidActionData(extra={"field": "severity", "problem": "invalid"})
    clean_evidence = action_data.clean_evidence(evidence)
    with transaction.atomic():
        attempt = _lock_attempt(attempt_id)
        ctx = _Ctx(
            attempt=attempt, rules=session_rules(attempt.session), now=clock.now(), actor=Actor.system()
        )
        open_one = (
            Incident.objects.select_for_update()
            .filter(attempt=attempt, kind=kind, status=Incident.Status.OPEN, ended_at__isnull=True)
            .order_by("-pk")
            .first()
        )
        if open_one is not None:
            open_one.last_seen_at = ctx.now
            open_one.occurrences += 1
            open_one.severity = max(open_one.severity, severity)
            if snapshot_id is not None and snapshot_id not in open_one.snapshot_ids:
                open_one.snapshot_ids = [*open_one.snapshot_ids, snapshot_id][-200:]
            open_one.save(update_fields=["last_seen_at", "occurrences", "severity", "snapshot_ids"])
            return open_one  # continuing a known condition: no new event
        incident = Incident.objects.create(
            attempt=attempt,
            kind=kind,
            severity=severity,
            first_seen_at=ctx.now,
            last_seen_at=ctx.now,
            snapshot_ids=[snapshot_id] if snapshot_id is not None else [],
        )
        ev = {**clean_evidence}
        if snapshot_id is not None:
            ev["snapshots"] = sorted({*ev.get("snapshots", []), snapshot_id}, key=str)
        ctx.record(
            "incident_opened",
            cause=kind,
            data={
                "incident_id": incident.pk,
                "kind": kind,
                "severity": severity,
                "seen_at": seen_at.isoformat() if seen_at else None,
            },
            evidence=ev,
        )
        category = rules.category_of(kind)
        status = Status(attempt.status)
        if category in rules.COUNTED_CATEGORIES and status in (
            Status.IN_PROGRESS,
            Status.ON_BREAK,
            Status.DEVICE_LOST,
        ):
            _warn(
                ctx,
                transition(status, Action.WARN, Role.SYSTEM),
                {"category": category, "message": str(kind), "incident_id": incident.pk},
                ev,
            )
        _announce(attempt.pk, ctx.event_ids)
    return incident


def incident_clear(*, attempt_id: int, kind: str, seen_at: datetime | None = None) -> Incident | None:
    """The condition is gone: the open incident ends, and reminders in its category count as corrected."""
    with transaction.atomic():
        attempt = _lock_attempt(attempt_id)
        ctx = _Ctx(
            attempt=attempt, rules=session_rules(attempt.session), now=clock.now(), actor=Actor.system()
        )
        incident = (
            Incident.objects.select_for_update()
            .filter(attempt=attempt, kind=kind, ended_at__isnull=True)
            .order_by("-pk")
            .first()
        )
        if incident is None:
            return None
        incident.ended_at = ctx.now
        incident.save(update_fields=["ended_at"])
        ctx.record(
            "incident_ended",
            cause=kind,
            data={"incident_id": incident.pk, "seen_at": seen_at.isoformat() if seen_at else None},
        )
        category = rules.category_of(kind)
        if category in rules.COUNTED_CATEGORIES and Status(attempt.status) not in (
            Status.DISQUALIFIED,
            Status.ABSENT,
        ):
            _mark_corrected(ctx, category, f"{kind}_cleared")
        _announce(attempt.pk, ctx.event_ids)
    return incident
