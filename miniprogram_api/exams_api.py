"""Exams endpoints: the desktop client's attempt and the proctors' sessions and decisions."""

from __future__ import annotations

from django.urls import URLPattern, path

from miniprogram_api import views_exams as v

urlpatterns: list[URLPattern] = [
    path("attempt", v.DesktopAttemptView.as_view(), name="desktop-attempt"),
    path("attempt/actions", v.DesktopAttemptActionView.as_view(), name="desktop-attempt-actions"),
    path("sessions/", v.ProctorSessionListView.as_view(), name="proctor-sessions"),
    path(
        "sessions/<int:session_id>/attempts",
        v.ProctorSessionAttemptsView.as_view(),
        name="proctor-session-attempts",
    ),
    path("attempts/<int:attempt_id>", v.ProctorAttemptView.as_view(), name="proctor-attempt"),
    path(
        "attempts/<int:attempt_id>/actions",
        v.ProctorAttemptActionView.as_view(),
        name="proctor-attempt-actions",
    ),
]
