"""Writes of the proctor console: assignment of candidates to proctors, review verdicts, the audit,
and the console's HTTP path for proctor commands (the same service the WebSocket uses).

Keyword-only, typed, ``<entity>_<action>``. Views only translate I/O and call these.
"""

from __future__ import annotations

import json
from typing import Any

from django.db import transaction

from accounts import roles
from exams import clock
from exams.models import Attempt, ExamSession
from exams.state_machine import TERMINAL
from monitor.console import errors
from monitor.console.models import ProctorActionAudit, ReviewVerdict


def _actor_label(user: Any) -> str:
    return f"user:{user.pk}:{user.get_username()}" if getattr(user, "pk", None) else "anonymous"


def audit_record(
    *,
    actor: Any,
    action: str,
    session_id: int | None = None,
    attempt_id: int | None = None,
    target: str = "",
    ok: bool = True,
    details: dict[str, Any] | None = None,
) -> ProctorActionAudit:
    """Append one audit row. ``details`` never holds ID numbers, tokens or URLs with signatures."""
    return ProctorActionAudit.objects.create(
        actor=actor if getattr(actor, "pk", None) else None,
        actor_label=_actor_label(actor)[:150],
        action=action,
        session_id=session_id,
        attempt_id=attempt_id,
        target=target[:64],
        ok=ok,
        details=details or {},
        at=clock.now(),
    )


def _require_chief(user: Any) -> None:
    if not roles.is_chief(user):
        raise errors.ChiefRequired()


@transaction.atomic
def attempts_split(*, session_id: int, actor: Any, rebalance: bool = False) -> dict[int, int]:
    """Split a session's candidates evenly among its proctors; returns {proctor_id: attempts}.

    Without ``rebalance`` only unassigned attempts (or ones whose proctor left the session) move,
    each to the proctor with the fewest so far, so nobody's screen is reshuffled mid-exam. With
    ``rebalance`` every attempt is dealt round-robin again (ordered by ticket number: a stable deal).
    """
    _require_chief(actor)
    session = ExamSession.objects.select_for_update().filter(pk=session_id).first()
    if session is None:
        raise errors.SessionNotFound()
    proctor_ids = list(session.proctors.order_by("username", "pk").values_list("pk", flat=True))
    if not proctor_ids:
        raise errors.NoProctors()
    attempts = (
        Attempt.objects.select_for_update()
        .filter(session_id=session_id)
        .order_by("candidate__ticket_number", "pk")
    )
    load = dict.fromkeys(proctor_ids, 0)
    if rebalance:
        to_deal = list(attempts)
    else:
        to_deal = []
        for attempt in attempts:
            if attempt.proctor_id in load:
                load[attempt.proctor_id] += 1
            else:
                to_deal.append(attempt)
    moved = 0
    for attempt in to_deal:
        # Fewest first; ties broken by the proctors' order: plain round-robin on a fresh session.
        target = min(proctor_ids, key=lambda pid: (load[pid], proctor_ids.index(pid)))
        load[target] += 1
        if attempt.proctor_id != target:
            Attempt.objects.filter(pk=attempt.pk).update(proctor_id=target)
            moved += 1
    audit_record(
        actor=actor,
        action="attempts_split",
        session_id=session_id,
        target=f"session:{session_id}",
        details={"rebalance": rebalance, "moved": moved, "load": {str(k): v for k, v in load.items()}},
    )
    return load


@transaction.atomic
def attempt_reassign(*, attempt_id: int, proctor_id: int, actor: Any) -> Attempt:
    """A chief proctor hands one candidate to another proctor of the same session."""
    _require_chief(actor)
    attempt = Attempt.objects.select_for_update().filter(pk=attempt_id).first()
    if attempt is None:
        raise errors.ConsoleForbidden()
    if not ExamSession.proctors.through.objects.filter(
        examsession_id=attempt.session_id, user_id=proctor_id
    ).exists():
        raise errors.ProctorNotInSession()
    previous = attempt.proctor_id
    if previous != proctor_id:
        attempt.proctor_id = proctor_id
        attempt.save(update_fields=["proctor", "updated_at"])
        audit_record(
            actor=actor,
            action="attempt_reassign",
            session_id=attempt.session_id,
            attempt_id=attempt.pk,
            target=f"attempt:{attempt.pk}",
            details={"from": previous, "to": proctor_id},
        )
    return attempt


def _review_open(attempt: Attempt) -> bool:
    return attempt.status in TERMINAL or clock.now() >= attempt.session.ends_at


@transaction.atomic
def review_verdict_set(*, attempt_id: int, verdict: str, notes: str = "", actor: Any) -> ReviewVerdict:
    """Record (or change) the review verdict of a finished attempt; every change is audited."""
    attempt = (
        Attempt.objects.select_related("session")
        .select_for_update(of=("self",))
        .filter(pk=attempt_id)
        .first()
    )
    if attempt is None or not roles.can_see_attempt(actor, attempt):
        raise errors.ConsoleForbidden()
    if verdict not in ReviewVerdict.Verdict.values:
        raise errors.InvalidVerdict(extra={"allowed": list(ReviewVerdict.Verdict.values)})
    notes = (notes or "").strip()
    if len(notes) > 2000:
        raise errors.InvalidVerdict("备注过长 (notes too long).", extra={"max": 2000})
    if not _review_open(attempt):
        raise errors.AttemptNotFinished()
    previous = ReviewVerdict.objects.filter(attempt_id=attempt_id).first()
    record, _ = ReviewVerdict.objects.update_or_create(
        attempt_id=attempt_id,
        defaults={"verdict": verdict, "notes": notes, "reviewer": actor, "at": clock.now()},
    )
    audit_record(
        actor=actor,
        action="review_verdict",
        session_id=attempt.session_id,
        attempt_id=attempt_id,
        target=f"attempt:{attempt_id}",
        details={
            "verdict": verdict,
            "previous": previous.verdict if previous else None,
            "notes": notes[:200],
        },
    )
    return record


# --- commands over HTTP -----------------------------------------------------------------------------

# The console sends commands over the proctor WebSocket; this HTTP path serves the same commands
# when the socket is down (and scripts), through the very same service (monitor.services).
COMMAND_TYPES = frozenset(
    {
        "warn",
        "approve_break",
        "deny_break",
        "force_submit",
        "disqualify",
        "message",
        "incident_confirm",
        "incident_dismiss",
    }
)


def console_command(*, actor: Any, attempt_id: int, payload: dict[str, Any]) -> str:
    """Validate ``payload`` with the wire protocol's own models, run it, audit it; returns its type."""
    from monitor import protocol
    from monitor import services as monitor_services

    if not isinstance(payload, dict) or payload.get("type") not in COMMAND_TYPES:
        raise errors.InvalidCommand(extra={"allowed": sorted(COMMAND_TYPES)})
    try:
        command = protocol.parse("proctor", json.dumps({**payload, "attempt_id": attempt_id}))
    except protocol.ProtocolError as exc:
        raise errors.InvalidCommand(extra={"problem": exc.code, "detail": exc.message}) from None
    # Exactly what the proctor socket passes on (monitor.consumers.ProctorConsumer.command).
    data = command.model_dump(exclude={"type", "attempt_id", "request_id"}, exclude_defaults=True)
    attempt = Attempt.objects.filter(pk=attempt_id).only("id", "session_id").first()
    try:
        monitor_services.proctor_command(user=actor, attempt_id=attempt_id, kind=command.type, data=data)
    except Exception as exc:
        code = getattr(exc, "code", type(exc).__name__)
        audit_record(
            actor=actor,
            action=f"command:{command.type}",
            session_id=attempt.session_id if attempt else None,
            attempt_id=attempt_id if attempt else None,
            target=f"attempt:{attempt_id}",
            ok=False,
            details={"code": str(code)},
        )
        raise
    audit_record(
        actor=actor,
        action=f"command:{command.type}",
        session_id=attempt.session_id if attempt else None,
        attempt_id=attempt_id,
        target=f"attempt:{attempt_id}",
        details={"data": data},
    )
    return str(command.type)
