"""Reads for accounts (what the mini-program's "me" page shows). Never returns a clear ID number."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from accounts.models import AuthToken, Candidate


@dataclass(frozen=True)
class Registration:
    attempt_id: int
    session_id: int
    subject: str
    subject_en: str
    level: str
    kind: str
    starts_at: datetime
    ends_at: datetime
    status: str


@dataclass(frozen=True)
class CandidateSummary:
    name: str
    ticket_number: str
    id_number_masked: str
    has_photo: bool


@dataclass(frozen=True)
class MeState:
    token_kind: str
    token_expires_at: datetime
    bound: bool
    candidate: CandidateSummary | None
    attempt_id: int | None  # desktop tokens are scoped to one attempt
    registrations: list[Registration] = field(default_factory=list)


def candidate_registrations(*, candidate: Candidate) -> list[Registration]:
    attempts = candidate.attempts.select_related("session__subject").order_by("session__starts_at")
    return [
        Registration(
            attempt_id=a.pk,
            session_id=a.session_id,
            subject=a.session.subject.name,
            subject_en=a.session.subject.name_en,
            level=a.session.level,
            kind=a.session.kind,
            starts_at=a.session.starts_at,
            ends_at=a.session.ends_at,
            status=a.status,
        )
        for a in attempts
    ]


def me_state(*, token: AuthToken) -> MeState:
    candidate = token.candidate
    if candidate is None and token.wechat_identity is not None:
        candidate = token.wechat_identity.candidate
    summary = None
    if candidate is not None:
        summary = CandidateSummary(
            name=candidate.name,
            ticket_number=candidate.ticket_number,
            id_number_masked=candidate.id_number_masked,
            has_photo=bool(candidate.photo),
        )
    return MeState(
        token_kind=token.kind,
        token_expires_at=token.expires_at,
        bound=candidate is not None,
        candidate=summary,
        attempt_id=token.attempt_id,
        registrations=candidate_registrations(candidate=candidate) if candidate is not None else [],
    )
