"""Reads of the phone-browser page: the paired device behind a browser session and what the page shows."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from accounts import id_numbers
from accounts.models import Candidate
from config.errors import ApplicationError
from monitor.models import PhoneDevice
from monitor.phone import errors
from monitor.phone.texts import MonitoringNotice, monitoring_notice


@dataclass(frozen=True)
class BrowserPairing:
    """What the page needs after pairing (no candidate data: the phone may be someone else's)."""

    device_id: int
    attempt_id: int
    session_id: int
    subject: str
    subject_en: str
    snapshot_interval_s: int
    consented: bool
    notice: MonitoringNotice

    def as_json(self) -> dict[str, Any]:
        return {
            "device_id": self.device_id,
            "attempt_id": self.attempt_id,
            "session_id": self.session_id,
            "subject": {"zh": self.subject, "en": self.subject_en or self.subject},
            "snapshot_interval_s": self.snapshot_interval_s,
            "consented": self.consented,
            "notice": self.notice.as_json(),
        }


def browser_device(*, device_id: int | None) -> PhoneDevice:
    """The live browser device of a session, or a refusal with a stable code."""
    if device_id is None:
        raise errors.BrowserNotPaired()
    device = (
        PhoneDevice.objects.select_related("attempt__session__subject")
        .filter(pk=device_id, kind=PhoneDevice.Kind.BROWSER)
        .first()
    )
    if device is None:
        raise errors.BrowserNotPaired()
    if device.revoked_at is not None:
        raise errors.DeviceReplaced()
    return device


def browser_pairing(*, device_id: int | None) -> BrowserPairing:
    device = browser_device(device_id=device_id)
    session = device.attempt.session
    return BrowserPairing(
        device_id=device.pk,
        attempt_id=device.attempt_id,
        session_id=session.pk,
        subject=session.subject.name,
        subject_en=session.subject.name_en,
        snapshot_interval_s=session.snapshot_interval_s,
        consented=device.attempt.monitoring_consent_at is not None,
        notice=monitoring_notice(
            snapshot_interval_s=session.snapshot_interval_s, retention_days=session.retention_days
        ),
    )


def candidate_by_identity(*, ticket_number: str, id_number: str) -> Candidate:
    """The candidate with this admission ticket and ID number (compared by the keyed hash only)."""
    try:
        ticket = id_numbers.validate_ticket(ticket_number)
        number_hash = id_numbers.lookup_hash(id_numbers.validate(id_number))
    except ApplicationError:
        raise errors.IdentityMismatch() from None
    candidate = Candidate.objects.filter(ticket_number=ticket, id_number_hash=number_hash).first()
    if candidate is None:
        raise errors.IdentityMismatch()
    return candidate
