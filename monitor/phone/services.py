"""Writes of the phone-browser page. Pairing, consent and tickets go through the owning areas' services
(monitor.services.pairing_claim / ws_ticket_create, media_pipeline.evidence.services.consent_record, which
applies the exams action consent); this module
only adds what a browser without a WeChat identity needs: the device id kept in the Django session."""

from __future__ import annotations

from django.db import transaction

from media_pipeline.evidence.services import consent_record
from monitor import services as monitor_services
from monitor.models import PhoneDevice, WsTicket
from monitor.phone import errors
from monitor.phone.selectors import BrowserPairing, browser_device, browser_pairing, candidate_by_identity
from monitor.phone.texts import NOTICE_VERSION


def browser_pair(
    *,
    token_or_code: str,
    confirm_code: str | None = None,
    ticket_number: str | None = None,
    id_number: str | None = None,
    user_agent: str = "",
) -> BrowserPairing:
    """Claim the pairing token (from the QR URL) or the typed fallback code. The browser proves it sits
    at that desktop with the confirm code shown there, or proves who it is with the ticket number +
    ID number. Raises monitor.errors.Pairing* / IdentityMismatch with stable codes; nothing is
    written then."""
    candidate_id = None
    if ticket_number is not None or id_number is not None:
        candidate_id = candidate_by_identity(ticket_number=ticket_number or "", id_number=id_number or "").pk
        confirm_code = None
    result = monitor_services.pairing_claim(
        token_or_code=token_or_code,
        confirm_code=confirm_code,
        candidate_id=candidate_id,
        kind=PhoneDevice.Kind.BROWSER,
        user_agent=user_agent,
    )
    return browser_pairing(device_id=result.device.pk)


def browser_consent(*, device_id: int | None, notice_version: str) -> BrowserPairing:
    """Record that the monitoring notice (this version) was accepted on the phone (exams action consent)."""
    device = browser_device(device_id=device_id)
    if notice_version != NOTICE_VERSION:
        raise errors.NoticeOutdated(extra={"current": NOTICE_VERSION})
    with transaction.atomic():
        # The exams consent action (Attempt.monitoring_consent_at + its event) plus which notice
        # version was accepted (media_pipeline.evidence.MonitoringConsent).
        consent_record(attempt_id=device.attempt_id, notice_version=notice_version, actor="phone")
    return browser_pairing(device_id=device.pk)


def browser_ticket_issue(*, device_id: int | None) -> monitor_services.IssuedTicket:
    """A single-use phone WebSocket ticket for this browser's device (one per (re)connection)."""
    device = browser_device(device_id=device_id)
    if device.attempt.monitoring_consent_at is None:
        raise errors.ConsentRequired()
    return monitor_services.ws_ticket_create(
        role=WsTicket.Role.PHONE, attempt_id=device.attempt_id, device=device
    )
