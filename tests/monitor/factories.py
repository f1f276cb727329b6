"""Builders for monitor tests: a running formal session, a bound candidate, tokens, a proctor."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from django.utils import timezone

from accounts.models import AuthToken, Role, User, WechatIdentity
from accounts.roles import role_assign
from accounts.tokens import token_issue
from exams.models import Attempt, ExamSession
from tests.accounts import factories as af


@dataclass
class Sitting:
    attempt: Attempt
    identity: WechatIdentity
    phone_token: str  # mini-program bearer token
    desktop_token: str  # desktop bearer token scoped to the attempt
    desktop_token_id: int


def running_session() -> ExamSession:
    return af.session(starts_at=timezone.now() - timedelta(minutes=5), minutes=120)


def sitting(session: ExamSession, i: int, *, status: str = "in_progress") -> Sitting:
    """A candidate sitting the exam (status set directly: these tests are about the monitor)."""
    candidate = af.candidate(i, name=f"考生{i}")
    attempt = Attempt.objects.create(
        candidate=candidate, session=session, status=status, started_at=timezone.now() - timedelta(minutes=4)
    )
    identity = WechatIdentity.objects.create(
        openid=f"openid-{i}", candidate=candidate, bound_at=timezone.now()
    )
    phone = token_issue(kind=AuthToken.Kind.MINIPROGRAM, wechat_identity=identity)
    desktop = token_issue(kind=AuthToken.Kind.DESKTOP, candidate=candidate, attempt_id=attempt.pk)
    return Sitting(attempt, identity, phone.raw, desktop.raw, desktop.token.pk)


def proctor(session: ExamSession, username: str = "proctor1") -> User:
    user = User.objects.create_user(username=username, password="pw-proctor-123")
    role_assign(user=user, role=Role.PROCTOR)
    session.proctors.add(user)
    return user
