"""Writes of the monitor area: pairing tokens, the phone claim, WebSocket tickets, device liveness.

Keyword-only, typed, named ``<entity>_<action>``. Views and consumers only translate I/O and call
these. Pushes to sockets happen after commit (monitor.broadcast); exam status changes go through
exams.services.attempt_apply_action, the single writer of Attempt.status.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.models import AuthToken, WechatIdentity
from config import sql
from config.errors import ApplicationError
from exams.models import Attempt
from monitor import errors
from monitor.models import DesktopPresence, PairingToken, PhoneDevice, WsTicket

logger = logging.getLogger(__name__)

# No 0/O, 1/I/L: the fallback code is read off a screen and typed on a phone.
FALLBACK_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
FALLBACK_LENGTH = 8


def _sha256(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def _derive(nonce: str, purpose: str) -> bytes:
    key = settings.SECRET_KEY.encode()
    return hmac.new(key, f"monitor.pairing.{purpose}:{nonce}".encode(), hashlib.sha256).digest()


def pairing_secrets(nonce: str) -> tuple[str, str]:
    """(token, fallback code) for a nonce: HMAC-derived so only the server can recompute them."""
    import base64

    token = base64.urlsafe_b64encode(_derive(nonce, "token")[:24]).decode().rstrip("=")
    digest = _derive(nonce, "code")
    code = "".join(FALLBACK_ALPHABET[b % len(FALLBACK_ALPHABET)] for b in digest[:FALLBACK_LENGTH])
    return token, code


def normalise_fallback_code(value: str) -> str | None:
    """Upper-case, drop spaces and dashes; None when it cannot be a fallback code."""
    code = value.replace(" ", "").replace("-", "").upper()
    if len(code) == FALLBACK_LENGTH and all(c in FALLBACK_ALPHABET for c in code):
        return code
    return None


def pairing_url(token: str) -> str:
    """One URL for both: WeChat's "scan an ordinary link" opens the mini-program; other scanners the page."""
    return f"{settings.PUBLIC_BASE_URL.rstrip('/')}/m/pair?t={token}"


@dataclass(frozen=True)
class IssuedPairing:
    pairing: PairingToken
    token: str  # shown once in the QR; never logged
    fallback_code: str
    url: str


@transaction.atomic
def pairing_token_create(*, attempt_id: int) -> IssuedPairing:
    """A fresh pairing token for the desktop; the previous unclaimed ones of the attempt expire now."""
    now = timezone.now()
    attempt = Attempt.objects.select_for_update().filter(pk=attempt_id).first()
    if attempt is None:
        raise errors.AttemptNotPairable()
    _refuse_if_closed(attempt)
    PairingToken.objects.filter(attempt_id=attempt_id, claimed_at__isnull=True, expires_at__gt=now).update(
        expires_at=now
    )
    ttl = timedelta(seconds=int(settings.PAIRING_TOKEN_TTL_SECONDS))
    for _ in range(5):  # a fallback-code collision is ~1e-12; retry rather than fail
        nonce = secrets.token_hex(16)
        token, code = pairing_secrets(nonce)
        try:
            with transaction.atomic():
                pairing = PairingToken.objects.create(
                    attempt_id=attempt_id,
                    token_hash=_sha256(token),
                    secret_nonce=nonce,
                    fallback_code_hash=_sha256(code),
                    confirm_code=f"{secrets.randbelow(10_000):04d}",
                    expires_at=now + ttl,
                )
        except IntegrityError:
            continue
        return IssuedPairing(pairing=pairing, token=token, fallback_code=code, url=pairing_url(token))
    raise ApplicationError(code="pairing_unavailable", message="Could not create a pairing code; retry.")


def pairing_token_reveal(*, pairing: PairingToken) -> IssuedPairing:
    """Recompute the token of a live pairing row (to render its QR again)."""
    token, code = pairing_secrets(pairing.secret_nonce)
    return IssuedPairing(pairing=pairing, token=token, fallback_code=code, url=pairing_url(token))


@dataclass(frozen=True)
class ClaimResult:
    device: PhoneDevice
    attempt_id: int
    session_id: int
    confirm_code: str
    replaced_device_ids: list[int]


@transaction.atomic
def pairing_claim(
    *,
    token_or_code: str,
    wechat_identity: WechatIdentity | None = None,
    confirm_code: str | None = None,
    kind: str = PhoneDevice.Kind.MINIPROGRAM,
    user_agent: str = "",
    candidate_id: int | None = None,
) -> ClaimResult:
    """Bind a phone to the attempt behind a pairing token (QR) or fallback code (typed).

    Mini-program: the WeChat identity must be bound to the attempt's candidate. Browser: the confirm
    code shown on the desktop must match (the phone has no identity of its own), or ``candidate_id``
    (the caller verified ticket + ID number: monitor.phone) must be the attempt's candidate. A new phone
    revokes the previous one ("replaced"); its socket closes with CloseCode.DEVICE_REPLACED.
    """
    now = timezone.now()
    value = (token_or_code or "").strip()
    if not value or len(value) > 128:
        raise errors.PairingTokenUnknown()
    code = normalise_fallback_code(value)
    lookup = {"fallback_code_hash": _sha256(code)} if code else {"token_hash": _sha256(value)}
    pairing = PairingToken.objects.select_for_update().filter(**lookup).first()
    if pairing is None:
        raise errors.PairingTokenUnknown()
    if pairing.claimed_at is not None:
        raise errors.PairingTokenUsed()
    if pairing.expires_at <= now:
        raise errors.PairingTokenExpired()
    attempt = Attempt.objects.select_for_update().get(pk=pairing.attempt_id)
    _refuse_if_closed(attempt)
    if kind == PhoneDevice.Kind.MINIPROGRAM:
        if wechat_identity is None or wechat_identity.candidate_id is None:
            raise errors.NotBound()
        if wechat_identity.candidate_id != attempt.candidate_id:
            raise errors.PairingWrongCandidate()
    elif candidate_id is not None:
        if candidate_id != attempt.candidate_id:
            raise errors.PairingWrongCandidate()
    elif not confirm_code or not hmac.compare_digest(confirm_code.strip(), pairing.confirm_code):
        raise errors.ConfirmCodeMismatch()

    old = list(PhoneDevice.objects.select_for_update().filter(attempt_id=attempt.pk, revoked_at__isnull=True))
    PhoneDevice.objects.filter(pk__in=[d.pk for d in old]).update(revoked_at=now, revoke_reason="replaced")
    device = PhoneDevice.objects.create(
        attempt_id=attempt.pk,
        kind=kind,
        wechat_identity=wechat_identity,
        user_agent=user_agent[:256],
        last_seen_at=None,
    )
    # Conditional: SQLite ignores FOR UPDATE, so two phones racing for one token are decided here.
    if not PairingToken.objects.filter(pk=pairing.pk, claimed_at__isnull=True).update(
        claimed_at=now, device=device
    ):
        raise errors.PairingTokenUsed()
    result = ClaimResult(
        device=device,
        attempt_id=attempt.pk,
        session_id=attempt.session_id,
        confirm_code=pairing.confirm_code,
        replaced_device_ids=[d.pk for d in old],
    )
    from monitor import broadcast

    transaction.on_commit(lambda: broadcast.push_paired(result))
    return result


def _refuse_if_closed(attempt: Attempt) -> None:
    from exams.state_machine import TERMINAL

    if attempt.status in TERMINAL:
        raise errors.AttemptNotPairable()


# --- WebSocket tickets ----------------------------------------------------------------------------


@dataclass(frozen=True)
class IssuedTicket:
    raw: str  # put in the WebSocket URL once; never logged (config.logging redacts ticket=)
    ticket: WsTicket


def ws_ticket_issue(*, role: str, auth_token: AuthToken | None = None, user: Any = None) -> IssuedTicket:
    """A single-use ticket (WS_TICKET_TTL_SECONDS) to open the socket of ``role``."""
    from accounts import roles

    fields: dict[str, Any] = {"role": role}
    if role == WsTicket.Role.DESKTOP:
        if auth_token is None or auth_token.kind != AuthToken.Kind.DESKTOP or auth_token.attempt_id is None:
            raise errors.TicketRoleForbidden()
        fields.update(attempt_id=auth_token.attempt_id, auth_token=auth_token)
    elif role == WsTicket.Role.PHONE:
        if auth_token is None or auth_token.kind != AuthToken.Kind.MINIPROGRAM:
            raise errors.TicketRoleForbidden()
        device = (
            PhoneDevice.objects.filter(
                wechat_identity_id=auth_token.wechat_identity_id, revoked_at__isnull=True
            )
            .order_by("-paired_at", "-pk")
            .first()
        )
        if device is None:
            raise errors.NotPaired()
        fields.update(attempt_id=device.attempt_id, device=device, auth_token=auth_token)
    elif role == WsTicket.Role.PROCTOR:
        if not roles.is_proctor(user):
            raise errors.TicketRoleForbidden()
        fields.update(user=user)
    else:
        raise errors.TicketRoleForbidden()
    return ws_ticket_create(**fields)


def ws_ticket_create(**fields: Any) -> IssuedTicket:
    """The raw ticket for already-authorised fields (also used by the phone-browser pairing flow)."""
    raw = secrets.token_urlsafe(24)
    ticket = WsTicket.objects.create(
        ticket_hash=_sha256(raw),
        expires_at=timezone.now() + timedelta(seconds=int(settings.WS_TICKET_TTL_SECONDS)),
        **fields,
    )
    return IssuedTicket(raw=raw, ticket=ticket)


@transaction.atomic
def ws_ticket_consume(*, raw: str, role: str) -> WsTicket:
    """Mark the ticket used and return it, or raise TicketInvalid / Expired / Used (stable codes)."""
    if not raw or len(raw) > 128:
        raise errors.TicketInvalid()
    ticket = (
        WsTicket.objects.select_for_update(of=("self",))
        .select_related("device", "auth_token", "user")
        .filter(ticket_hash=_sha256(raw))
        .first()
    )
    if ticket is None or ticket.role != role:
        raise errors.TicketInvalid()
    if ticket.used_at is not None:
        raise errors.TicketUsed()
    now = timezone.now()
    if ticket.expires_at <= now:
        raise errors.TicketExpired()
    token = ticket.auth_token
    if token is not None and (token.revoked_at is not None or token.expires_at <= now):
        raise errors.TicketInvalid()
    if ticket.device is not None and ticket.device.revoked_at is not None:
        raise errors.TicketInvalid(code="device_revoked")
    ticket.used_at = now
    ticket.save(update_fields=["used_at"])
    return ticket


# --- Device liveness ------------------------------------------------------------------------------


@dataclass(frozen=True)
class PhoneSession:
    """What a phone socket needs to know at connect time."""

    device_id: int
    attempt_id: int
    session_id: int
    last_acked_seq: int
    audio_resume_from: int
    snapshot_interval_s: int
    restored: bool
    ended: bool = False  # the attempt is over: the socket is told hello_ok, then closed (4010)


def device_connected(*, device_id: int) -> PhoneSession:
    """A phone socket opened: note it; a lost phone is restored (exams action phone_restored)."""
    from exams.state_machine import TERMINAL
    from media_pipeline.models import AudioBatch

    now = timezone.now()
    with transaction.atomic():
        device = PhoneDevice.objects.select_for_update().select_related("attempt__session").get(pk=device_id)
        if device.attempt.status in TERMINAL:
            return PhoneSession(
                device_id=device_id,
                attempt_id=device.attempt_id,
                session_id=device.attempt.session_id,
                last_acked_seq=device.last_acked_seq,
                audio_resume_from=0,
                snapshot_interval_s=device.attempt.session.snapshot_interval_s,
                restored=False,
                ended=True,
            )
        restored = device.lost_at is not None
        device.last_seen_at = now
        device.lost_at = None
        device.save(update_fields=["last_seen_at", "lost_at"])
        if restored:
            _exam_action(attempt_id=device.attempt_id, action="phone_restored", device_id=device_id)
        attempt_id, session_id = device.attempt_id, device.attempt.session_id
        transaction.on_commit(
            lambda: _push_phone_state(
                device_id=device_id,
                attempt_id=attempt_id,
                session_id=session_id,
                at=now,
                state="online",
                alert_kind="phone_restored" if restored else None,
            )
        )
    audio_last = (
        AudioBatch.objects.filter(device_id=device_id).order_by("-seq").values_list("seq", flat=True).first()
        or 0
    )
    return PhoneSession(
        device_id=device_id,
        attempt_id=device.attempt_id,
        session_id=device.attempt.session_id,
        last_acked_seq=device.last_acked_seq,
        audio_resume_from=audio_last,
        snapshot_interval_s=device.attempt.session.snapshot_interval_s,
        restored=restored,
    )


def device_seen(*, device_id: int, acked_seq: int | None = None) -> None:
    """Record liveness (callers throttle this: one write per few seconds, not per heartbeat)."""
    fields: dict[str, Any] = {"last_seen_at": timezone.now()}
    PhoneDevice.objects.filter(pk=device_id, revoked_at__isnull=True).update(**fields)
    if acked_seq is not None:
        device_acked(device_id=device_id, seq=acked_seq)


def device_acked(*, device_id: int, seq: int) -> None:
    """Raise the device's resume point (never lower it: acks can race across reconnects)."""
    PhoneDevice.objects.filter(pk=device_id, last_acked_seq__lt=seq).update(last_acked_seq=seq)


def device_mark_lost(*, device_id: int, reason: str) -> bool:
    """Mark a live phone lost (heartbeat timeout). True for the one caller that did it (idempotent)."""
    now = timezone.now()
    with transaction.atomic():
        won = PhoneDevice.objects.filter(pk=device_id, revoked_at__isnull=True, lost_at__isnull=True).update(
            lost_at=now
        )
        if not won:
            return False
        device = PhoneDevice.objects.select_related("attempt").get(pk=device_id)
        _exam_action(attempt_id=device.attempt_id, action="phone_lost", device_id=device_id)
        attempt_id, session_id = device.attempt_id, device.attempt.session_id
        transaction.on_commit(
            lambda: _push_phone_state(
                device_id=device_id,
                attempt_id=attempt_id,
                session_id=session_id,
                at=now,
                state="lost",
                alert_kind="phone_lost",
                data={"reason": reason},
            )
        )
    logger.info("phone device %s lost (%s)", device_id, reason)
    return True


def devices_sweep_lost(*, now: datetime | None = None) -> list[int]:
    """Mark lost every live phone (and desktop) silent for longer than the heartbeat timeout.
    Returns the phone device ids it marked.

    The robust path when several server processes run or one died: sockets write last_seen_at (at
    most every few seconds) and this sweep, run by every server process and by a periodic task, finds
    the silent ones. Safe to run concurrently: device_mark_lost is a conditional update.
    """
    from exams.state_machine import TERMINAL

    now = now or timezone.now()
    cutoff = now - timedelta(seconds=float(settings.HEARTBEAT_TIMEOUT_SECONDS))
    candidates = list(
        PhoneDevice.objects.filter(revoked_at__isnull=True, lost_at__isnull=True, last_seen_at__lt=cutoff)
        .exclude(attempt__status__in=[str(s) for s in TERMINAL])
        .values_list("pk", flat=True)[:500]
    )
    lost = [pk for pk in candidates if device_mark_lost(device_id=pk, reason="heartbeat_timeout")]
    desktops = list(
        DesktopPresence.objects.filter(lost_at__isnull=True, last_seen_at__lt=cutoff)
        .exclude(attempt__status__in=[str(s) for s in TERMINAL])
        .values_list("attempt_id", flat=True)[:500]
    )
    for attempt_id in desktops:
        desktop_mark_lost(attempt_id=attempt_id, reason="heartbeat_timeout")
    return lost


# --- Desktop liveness (the exam client's socket) ------------------------------------------------------


def desktop_connected(*, attempt_id: int) -> bool:
    """A desktop socket said hello: note it; a lost desktop is restored (exams action desktop_restored,
    a no-op when a re-login's check_in restored it already). True when it had been lost."""
    now = timezone.now()
    with transaction.atomic():
        presence, created = DesktopPresence.objects.select_for_update().get_or_create(
            attempt_id=attempt_id, defaults={"connected_at": now, "last_seen_at": now}
        )
        restored = not created and presence.lost_at is not None
        if not created:
            presence.connected_at = presence.last_seen_at = now
            presence.lost_at = None
            presence.save(update_fields=["connected_at", "last_seen_at", "lost_at"])
        if restored:
            _exam_action(attempt_id=attempt_id, action="desktop_restored", device_id=None)
            session_id = Attempt.objects.values_list("session_id", flat=True).get(pk=attempt_id)
            transaction.on_commit(
                lambda: _push_desktop_state(
                    attempt_id=attempt_id, session_id=session_id, at=now, alert_kind="desktop_restored"
                )
            )
    return restored


def desktop_seen(*, attempt_id: int) -> None:
    """Record liveness (the socket throttles this to one write per few seconds)."""
    DesktopPresence.objects.filter(attempt_id=attempt_id).update(last_seen_at=timezone.now())


def desktop_mark_lost(*, attempt_id: int, reason: str) -> bool:
    """The desktop went silent or vanished for the heartbeat timeout: exams action desktop_lost (the
    5-minute reconnect rule is the exam rules'), proctors alerted. Idempotent: True for the one caller
    that did it (a conditional update, so sockets and sweeps of several processes may race)."""
    now = timezone.now()
    with transaction.atomic():
        if not DesktopPresence.objects.filter(attempt_id=attempt_id, lost_at__isnull=True).update(
            lost_at=now
        ):
            return False
        _exam_action(attempt_id=attempt_id, action="desktop_lost", device_id=None)
        session_id = Attempt.objects.values_list("session_id", flat=True).get(pk=attempt_id)
        transaction.on_commit(
            lambda: _push_desktop_state(
                attempt_id=attempt_id,
                session_id=session_id,
                at=now,
                alert_kind="desktop_lost",
                data={"reason": reason},
            )
        )
    logger.info("desktop of attempt %s lost (%s)", attempt_id, reason)
    return True


def _push_desktop_state(**kwargs: Any) -> None:
    from monitor import broadcast

    broadcast.push_desktop_state(**kwargs)


def _push_phone_state(**kwargs: Any) -> None:
    from monitor import broadcast

    broadcast.push_phone_state(**kwargs)


def _exam_action(*, attempt_id: int, action: str, device_id: int | None) -> None:
    """Tell the exam rules (status change + timeline event). A refusal (e.g. the exam already ended)
    is logged, not raised: liveness is recorded by the monitor either way."""
    from exams import services as exam_services

    try:
        with transaction.atomic():
            exam_services.attempt_apply_action(
                attempt_id=attempt_id,
                action=action,
                actor="system",
            )
    except ApplicationError as exc:
        logger.info(
            "attempt %s: %s (device %s) refused by the exam rules (%s)",
            attempt_id,
            action,
            device_id,
            exc.code,
        )


# --- Messages from the desktop and proctor sockets -------------------------------------------------


def desktop_action(
    *, attempt_id: int, action: str, data: dict[str, Any] | None = None, client_time: datetime | None = None
) -> None:
    """focus_lost / focus_regained / break_request / break_return / warning_ack from the desktop."""
    from exams import services as exam_services

    exam_services.attempt_apply_action(
        attempt_id=attempt_id, action=action, actor="candidate", data=data or None, client_time=client_time
    )


def desktop_indicator(*, attempt_id: int, shown: bool) -> None:
    """Record what the candidate saw: the 正在监控中 indicator shown or hidden (timeline event)."""
    _event_announce(
        attempt_id=attempt_id, kind="monitoring_indicator", actor="candidate", data={"shown": shown}
    )


def proctor_command(*, user: Any, attempt_id: int, kind: str, data: dict[str, Any]) -> None:
    """A proctor's command on an attempt it may see: an exams action, or a message to the candidate."""
    from exams import services as exam_services
    from monitor import protocol, selectors

    selectors.proctor_attempt(user=user, attempt_id=attempt_id)
    actor = f"proctor:{user.pk}"
    if kind == "message":
        _event_announce(
            attempt_id=attempt_id, kind="proctor_message", actor=actor, data={"message": data["text"]}
        )
        return
    exam_services.attempt_apply_action(
        attempt_id=attempt_id, action=protocol.PROCTOR_ACTIONS[kind], actor=actor, data=data or None
    )


def _event_announce(*, attempt_id: int, kind: str, actor: str, data: dict[str, Any]) -> None:
    """A timeline event that is not a status change, announced like every other event."""
    from exams.events import event_append
    from exams.signals import attempt_changed

    with transaction.atomic():
        event = event_append(attempt=attempt_id, kind=kind, actor=actor, data=data)
        ids = [event.pk]
        # The agreed contract: attempt_changed after commit for every recorded event.
        transaction.on_commit(
            lambda: attempt_changed.send(sender=Attempt, attempt_id=attempt_id, event_ids=ids)
        )


# --- Phone traffic recorded in batches (monitor.writer) -------------------------------------------------


def devices_seen(*, device_ids: set[int] | list[int]) -> int:
    """Record liveness of many phones in one statement (the socket throttles each one). Returns rows."""
    if not device_ids:
        return 0
    conn = sql.db()
    q = conn.ops.quote_name
    # One fixed statement (the ORM compiled this update for every group commit).
    statement = (
        f"UPDATE {q(PhoneDevice._meta.db_table)} SET {q('last_seen_at')} = %s"  # noqa: S608 - names from the model
        f" WHERE {sql.in_ids(conn, q('id'))} AND {q('revoked_at')} IS NULL"
    )
    with conn.cursor() as cursor:
        cursor.execute(statement, [timezone.now(), sql.ids_param(conn, device_ids)])
        return cursor.rowcount


def phone_traffic_record(*, audio: list[Any], seen_device_ids: set[int]) -> list[Any]:
    """One transaction for what many phone sockets sent in the last few milliseconds: their audio
    batches (media_pipeline.services.audio_ingest_many: one entry per item, the row or its error)
    and their liveness. One commit (one fsync on SQLite) for hundreds of messages."""
    from media_pipeline import services as media_services

    with transaction.atomic():
        results = media_services.audio_ingest_many(items=audio) if audio else []
        devices_seen(device_ids=seen_device_ids)
    return results
