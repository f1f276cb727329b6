"""Writes for accounts. Keyword-only, typed; views, commands and admin only translate I/O and call these."""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.utils import timezone

from accounts import id_numbers, wechat
from accounts.errors import (
    BindingFailed,
    BindingLocked,
    CandidateAlreadyBound,
    ChooseSession,
    IdentityAlreadyBound,
    InvalidLoginCode,
    LoginFailed,
    NoRegistration,
    NotRegistered,
)
from accounts.models import AccountAuditEntry, AuthToken, BindingFailure, Candidate, WechatIdentity
from accounts.tokens import IssuedToken, token_issue, token_revoke_queryset
from exams import clock
from exams.services import attempt_apply_action

logger = logging.getLogger(__name__)


@transaction.atomic
def candidate_create(*, ticket_number: str, id_number: str, name: str) -> Candidate:
    """Create a candidate; the ID number is validated, then stored only hashed, encrypted and masked."""
    ticket = id_numbers.validate_ticket(ticket_number)
    number = id_numbers.validate(id_number)
    return Candidate.objects.create(
        ticket_number=ticket,
        name=name.strip(),
        id_number_hash=id_numbers.lookup_hash(number),
        id_number_encrypted=id_numbers.encrypt(number),
        id_number_masked=id_numbers.mask(number),
    )


def audit_record(
    *,
    actor: str,
    action: str,
    target: str,
    details: dict[str, Any] | None = None,
    actor_user: Any = None,
) -> AccountAuditEntry:
    """Append one audit entry. ``details`` must not contain ID numbers, tokens or session keys."""
    return AccountAuditEntry.objects.create(
        actor=actor[:150],
        actor_user=actor_user if getattr(actor_user, "pk", None) else None,
        action=action,
        target=target,
        at=timezone.now(),
        details=details or {},
    )


def _actor_label(user: Any) -> str:
    return f"user:{user.pk}:{user.get_username()}" if getattr(user, "pk", None) else "system"


# --- WeChat login ---------------------------------------------------------------------------------


def _code_key(code: str) -> str:
    return "wxcode:" + hashlib.sha256(code.encode()).hexdigest()


def _claim_code(code: str) -> bool:
    """Remember a code for its 5-minute life: a replay is refused without asking WeChat again.

    WeChat refuses reuse too (40163); this also covers a replay racing the first exchange.
    """
    return bool(cache.add(_code_key(code), 1, timeout=300))


def wechat_login(*, code: str) -> tuple[IssuedToken, WechatIdentity]:
    """``wx.login`` code → code2Session (WeChat) → our own token (older tokens of this user revoked)."""
    if not isinstance(code, str) or not code.strip() or len(code) > 128:
        raise InvalidLoginCode()
    code = code.strip()
    if not _claim_code(code):
        raise wechat.WechatCodeUsed()
    try:
        session = wechat.code_to_session(code)  # outside any transaction: a network call
    except (wechat.WechatInvalidCode, wechat.WechatCodeUsed):
        raise
    except wechat.WechatError:
        # Busy, rate limited, unreachable: WeChat did not consume the code; the client may retry it.
        cache.delete(_code_key(code))
        raise
    now = timezone.now()
    with transaction.atomic():
        identity, _ = WechatIdentity.objects.select_for_update().get_or_create(openid=session.openid)
        identity.unionid = session.unionid or identity.unionid
        # Kept encrypted only so that user data the mini-program sends can be decrypted later.
        identity.session_key_encrypted = id_numbers.encrypt_secret(session.session_key)
        identity.last_login_at = now
        identity.save(update_fields=["unionid", "session_key_encrypted", "last_login_at"])
        issued = token_issue(
            kind=AuthToken.Kind.MINIPROGRAM, wechat_identity=identity, candidate=identity.candidate
        )
    logger.info("wechat login: identity %s", identity.pk)
    return issued, identity


def wechat_logout(*, token: AuthToken) -> None:
    token_revoke_queryset(AuthToken.objects.filter(pk=token.pk))


# --- Binding --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BindingLimits:
    window_s: int
    per_identity: int
    per_ip: int

    @classmethod
    def from_settings(cls) -> BindingLimits:
        return cls(
            window_s=int(getattr(settings, "BINDING_FAILURE_WINDOW_SECONDS", 15 * 60)),
            per_identity=int(getattr(settings, "BINDING_MAX_FAILURES_PER_IDENTITY", 5)),
            per_ip=int(getattr(settings, "BINDING_MAX_FAILURES_PER_IP", 20)),
        )


def _binding_retry_after(*, wechat_identity: WechatIdentity, ip: str | None) -> int | None:
    """Seconds until a lockout ends, or None when not locked (per identity, then per IP)."""
    limits = BindingLimits.from_settings()
    now = timezone.now()
    since = now - timedelta(seconds=limits.window_s)
    checks: list[tuple[dict[str, Any], int]] = [({"wechat_identity": wechat_identity}, limits.per_identity)]
    if ip:
        checks.append(({"ip": ip}, limits.per_ip))
    for where, limit in checks:
        recent = BindingFailure.objects.filter(at__gt=since, **where)
        if recent.count() >= limit:
            # Locked until the oldest failure that still counts leaves the window.
            oldest_counting = recent.order_by("-at").values_list("at", flat=True)[limit - 1]
            return max(1, int((oldest_counting + timedelta(seconds=limits.window_s) - now).total_seconds()))
    return None


def candidate_bind(
    *, wechat_identity: WechatIdentity, ticket_number: str, id_number: str, ip: str | None = None
) -> Candidate:
    """Bind a WeChat identity to the candidate with this ticket AND ID number.

    Any mismatch raises the same BindingFailed (nothing to enumerate) and counts towards a lockout
    per identity and per IP. Malformed input is refused earlier with a format error: it says
    nothing about who is registered, and helps a candidate who mistyped.
    """
    ticket = id_numbers.validate_ticket(ticket_number)
    number = id_numbers.validate(id_number)
    retry_after = _binding_retry_after(wechat_identity=wechat_identity, ip=ip)
    if retry_after is not None:
        raise BindingLocked(extra={"retry_after_seconds": retry_after})
    candidate = Candidate.objects.filter(
        ticket_number=ticket, id_number_hash=id_numbers.lookup_hash(number)
    ).first()
    if candidate is None:
        # Committed on its own (autocommit): the failure must count although we raise.
        BindingFailure.objects.create(wechat_identity=wechat_identity, ip=ip, at=timezone.now())
        raise BindingFailed()
    with transaction.atomic():
        identity = WechatIdentity.objects.select_for_update().get(pk=wechat_identity.pk)
        candidate = Candidate.objects.select_for_update().get(pk=candidate.pk)
        if identity.candidate_id == candidate.pk:
            return candidate  # a repeat: nothing to do
        if identity.candidate_id is not None:
            raise IdentityAlreadyBound()
        if WechatIdentity.objects.filter(candidate=candidate).exists():
            raise CandidateAlreadyBound()
        identity.candidate = candidate
        identity.bound_at = timezone.now()
        identity.save(update_fields=["candidate", "bound_at"])
        # The mini-program's live tokens now speak for this candidate.
        AuthToken.objects.filter(wechat_identity=identity, revoked_at__isnull=True).update(
            candidate=candidate
        )
        BindingFailure.objects.filter(wechat_identity=identity).delete()
        audit_record(
            actor=f"wechat:{identity.pk}",
            action="candidate_bound",
            target=f"candidate:{candidate.pk}",
            details={"wechat_identity": identity.pk},
        )
    wechat_identity.refresh_from_db()
    return candidate


@transaction.atomic
def candidate_unbind(*, candidate: Candidate, actor: Any, reason: str = "") -> WechatIdentity | None:
    """Admin only: release a candidate's WeChat binding so another WeChat can bind (audited).

    The released identity's mini-program tokens are revoked (open WebSockets close on the signal).
    """
    identity = WechatIdentity.objects.select_for_update().filter(candidate=candidate).first()
    if identity is None:
        return None
    identity.candidate = None
    identity.bound_at = None
    identity.save(update_fields=["candidate", "bound_at"])
    revoked = token_revoke_queryset(AuthToken.objects.filter(wechat_identity=identity))
    audit_record(
        actor=_actor_label(actor),
        actor_user=actor,
        action="candidate_unbound",
        target=f"candidate:{candidate.pk}",
        details={"wechat_identity": identity.pk, "reason": reason[:200], "tokens_revoked": len(revoked)},
    )
    return identity


# --- Desktop login --------------------------------------------------------------------------------


@dataclass(frozen=True)
class SessionChoice:
    """One exam task shown to a candidate at desktop login (``registered`` ones can be entered)."""

    session_id: int
    subject: str
    subject_en: str
    level: str
    kind: str
    starts_at: datetime
    ends_at: datetime
    registered: bool


def _session_choices(*, candidate: Candidate, now: datetime) -> list[SessionChoice]:
    from exams.models import ExamSession

    mine = set(candidate.attempts.values_list("session_id", flat=True))
    open_sessions = ExamSession.objects.filter(ends_at__gt=now).select_related("subject")
    days = {s.starts_at.date() for s in open_sessions if s.pk in mine}
    # The notice: a candidate may see several exam tasks at once but only enter their own.
    shown = [s for s in open_sessions if s.pk in mine or s.starts_at.date() in days]
    return [
        SessionChoice(
            session_id=s.pk,
            subject=s.subject.name,
            subject_en=s.subject.name_en,
            level=s.level,
            kind=s.kind,
            starts_at=s.starts_at,
            ends_at=s.ends_at,
            registered=s.pk in mine,
        )
        for s in shown
    ]


def _check_in(*, attempt_id: int) -> None:
    """exams enforces the login window (-30/+15 min) and records the check-in event."""
    attempt_apply_action(attempt_id=attempt_id, action="check_in", actor="candidate")


def desktop_login(*, ticket_number: str, id_number: str, session_id: int | None = None) -> IssuedToken:
    """Ticket + ID number (+ session when several) → a desktop token scoped to that attempt."""
    ticket = id_numbers.validate_ticket(ticket_number)
    number = id_numbers.validate(id_number)
    candidate = Candidate.objects.filter(
        ticket_number=ticket, id_number_hash=id_numbers.lookup_hash(number)
    ).first()
    if candidate is None:
        raise LoginFailed()
    now = clock.now()  # exam rules read time only from exams.clock
    choices = _session_choices(candidate=candidate, now=now)
    registered = [c for c in choices if c.registered]
    if session_id is None:
        if not registered:
            raise NoRegistration()
        if len(registered) > 1:
            raise ChooseSession(extra={"sessions": [_choice_json(c) for c in choices]})
        session_id = registered[0].session_id
    attempt = candidate.attempts.filter(session_id=session_id).first()
    if attempt is None:
        raise NotRegistered(extra={"sessions": [_choice_json(c) for c in choices]})
    # exams commits the check-in itself (and fires overdue deadlines in their own transaction), so
    # it is not nested in ours; a refused check-in raises before any token exists.
    _check_in(attempt_id=attempt.pk)
    issued = token_issue(kind=AuthToken.Kind.DESKTOP, candidate=candidate, attempt_id=attempt.pk)
    logger.info("desktop login: candidate %s attempt %s", candidate.pk, attempt.pk)
    return issued


def _choice_json(choice: SessionChoice) -> dict[str, Any]:
    return {
        "session_id": choice.session_id,
        "subject": choice.subject,
        "subject_en": choice.subject_en,
        "level": choice.level,
        "kind": choice.kind,
        "starts_at": choice.starts_at.isoformat(),
        "ends_at": choice.ends_at.isoformat(),
        "registered": choice.registered,
    }


def binding_failures_purge(*, older_than: datetime | None = None) -> int:
    """Housekeeping: drop failure rows that no longer count for any lockout."""
    limits = BindingLimits.from_settings()
    cutoff = older_than or timezone.now() - timedelta(seconds=limits.window_s)
    deleted, _ = BindingFailure.objects.filter(at__lt=cutoff).delete()
    return deleted
