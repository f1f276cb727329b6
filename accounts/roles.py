"""Roles as Django groups with permissions, and the helpers other areas ask "who may do this?".

Groups: candidate, proctor, chief_proctor, exam_admin (names in accounts.models.Role). They are
created idempotently by ``ensure_groups()``, which a post_migrate handler calls, so a fresh
database, the test database and production all have them without a data migration that would
depend on every app's permissions existing first.

Visibility rule (used by REST views, pages and WebSocket consumers alike):
- a proctor sees an attempt when assigned to its session (ExamSession.proctors) or to the attempt
  itself (Attempt.proctor);
- a chief proctor and an exam admin (and a superuser) see every attempt.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import AnonymousUser, Group, Permission
from django.db import transaction
from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from accounts.models import Role

# (app_label, codename) per group. Model permissions are Django's defaults; the custom ones a
# future app adds can be appended here and ensure_groups() picks them up on the next migrate.
GROUP_PERMISSIONS: dict[str, list[tuple[str, str]]] = {
    Role.CANDIDATE: [],
    Role.PROCTOR: [
        ("exams", "view_examsession"),
        ("exams", "view_attempt"),
        ("exams", "view_attemptevent"),
        ("exams", "view_incident"),
        ("exams", "change_incident"),
        ("accounts", "view_candidate"),
    ],
    Role.CHIEF_PROCTOR: [
        ("exams", "view_examsession"),
        ("exams", "change_examsession"),
        ("exams", "view_attempt"),
        ("exams", "change_attempt"),
        ("exams", "view_attemptevent"),
        ("exams", "view_incident"),
        ("exams", "change_incident"),
        ("accounts", "view_candidate"),
        ("accounts", "view_accountauditentry"),
    ],
    Role.EXAM_ADMIN: [
        ("exams", "add_subject"),
        ("exams", "change_subject"),
        ("exams", "view_subject"),
        ("exams", "add_examsession"),
        ("exams", "change_examsession"),
        ("exams", "view_examsession"),
        ("exams", "add_attempt"),
        ("exams", "change_attempt"),
        ("exams", "view_attempt"),
        ("exams", "view_attemptevent"),
        ("exams", "view_incident"),
        ("exams", "change_incident"),
        ("accounts", "add_candidate"),
        ("accounts", "change_candidate"),
        ("accounts", "view_candidate"),
        ("accounts", "view_wechatidentity"),
        ("accounts", "change_wechatidentity"),
        ("accounts", "view_accountauditentry"),
        ("accounts", "view_user"),
        # media_pipeline.evidence (docs/evidence.md): bundles and links, the purge, data requests.
        ("evidence", "add_exportjob"),
        ("evidence", "view_exportjob"),
        ("evidence", "add_purgerecord"),
        ("evidence", "view_purgerecord"),
        ("evidence", "view_monitoringconsent"),
        ("evidence", "handle_data_request"),
    ],
}


@transaction.atomic
def ensure_groups() -> dict[str, Group]:
    """Create the role groups and (re)attach their permissions. Safe to run any number of times."""
    groups: dict[str, Group] = {}
    for name, wanted in GROUP_PERMISSIONS.items():
        group, _ = Group.objects.get_or_create(name=name)
        perms = []
        for app_label, codename in wanted:
            perm = Permission.objects.filter(content_type__app_label=app_label, codename=codename).first()
            if perm is not None:  # an app not migrated yet: the next post_migrate adds it
                perms.append(perm)
        group.permissions.add(*perms)
        groups[str(name)] = group
    return groups


def post_migrate_ensure_groups(sender: Any, **kwargs: Any) -> None:
    ensure_groups()


def _has_role(user: Any, role: str) -> bool:
    if user is None or isinstance(user, AnonymousUser) or not getattr(user, "is_authenticated", False):
        return False
    if getattr(user, "is_superuser", False):
        return True
    # Cache per request-bound user object: permission checks run several times per request.
    cache: set[str] | None = getattr(user, "_role_names_cache", None)
    if cache is None:
        cache = set(user.groups.values_list("name", flat=True))
        user._role_names_cache = cache
    return role in cache


def is_exam_admin(user: Any) -> bool:
    return _has_role(user, Role.EXAM_ADMIN)


def is_chief(user: Any) -> bool:
    return _has_role(user, Role.CHIEF_PROCTOR) or is_exam_admin(user)


def is_proctor(user: Any) -> bool:
    """Any proctoring role: proctor, chief proctor or exam admin."""
    return _has_role(user, Role.PROCTOR) or is_chief(user)


def can_see_attempt(user: Any, attempt: Any) -> bool:
    """``attempt`` is an exams.Attempt (or anything with ``proctor_id`` and ``session_id``)."""
    if is_chief(user):
        return True
    if not is_proctor(user):
        return False
    if attempt.proctor_id == user.pk:
        return True
    from exams.models import ExamSession

    return ExamSession.proctors.through.objects.filter(
        examsession_id=attempt.session_id, user_id=user.pk
    ).exists()


def role_assign(*, user: Any, role: str) -> None:
    """Put a user into a role group (demo data, admin, tests)."""
    groups = ensure_groups()
    if role not in groups:
        raise ValueError(f"unknown role {role!r}")
    user.groups.add(groups[role])
    if hasattr(user, "_role_names_cache"):
        del user._role_names_cache


class IsProctor(BasePermission):
    """A signed-in staff user (Django session) with a proctoring role."""

    message = "需要监考员权限 (proctor role required)."

    def has_permission(self, request: Request, view: Any) -> bool:
        return is_proctor(request.user)


class IsChiefProctor(BasePermission):
    message = "需要主监考权限 (chief proctor role required)."

    def has_permission(self, request: Request, view: Any) -> bool:
        return is_chief(request.user)


class IsExamAdmin(BasePermission):
    message = "需要考务管理员权限 (exam admin role required)."

    def has_permission(self, request: Request, view: Any) -> bool:
        return is_exam_admin(request.user)


class CanSeeAttempt(BasePermission):
    """Object permission for views whose object is an Attempt."""

    message = "无权查看该考生 (not allowed to see this attempt)."

    def has_permission(self, request: Request, view: Any) -> bool:
        return is_proctor(request.user)

    def has_object_permission(self, request: Request, view: Any, obj: Any) -> bool:
        return can_see_attempt(request.user, obj)
