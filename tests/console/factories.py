"""Builders for console tests: staff users in their role groups, sessions with candidates."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from accounts.models import Role, User
from accounts.roles import role_assign
from exams.models import Attempt, ExamSession
from tests.accounts import factories as af

PASSWORD = "proctor-pass-123"  # noqa: S105 - test users only


def staff(username: str, role: str = Role.PROCTOR) -> User:
    user = User.objects.create_user(username=username, password=PASSWORD)
    role_assign(user=user, role=role)
    return user


def session_with_candidates(
    n: int, *, proctors: Sequence[Any] = (), start_index: int = 1, **kwargs: Any
) -> tuple[ExamSession, list[Attempt]]:
    session = af.session(**kwargs)
    session.proctors.add(*proctors)
    attempts = [
        af.register(af.candidate(start_index + i, name=f"考生{start_index + i:02d}"), session)
        for i in range(n)
    ]
    return session, attempts
