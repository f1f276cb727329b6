from __future__ import annotations

from django.urls import path
from django.views.generic import RedirectView

from monitor.console import views

app_name = "console"

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="console:sessions", permanent=False)),
    path("sessions/", views.sessions, name="sessions"),
    path("sessions/<int:session_id>/", views.grid, name="grid"),
    path("sessions/<int:session_id>/split/", views.split, name="split"),
    path("sessions/<int:session_id>/review/", views.review, name="review"),
    path("attempts/<int:attempt_id>/", views.attempt_detail, name="attempt"),
    path("attempts/<int:attempt_id>/timeline.json", views.attempt_timeline, name="timeline"),
    path("attempts/<int:attempt_id>/photo", views.candidate_photo, name="photo"),
    path("attempts/<int:attempt_id>/command/", views.command, name="command"),
    path("attempts/<int:attempt_id>/reassign/", views.reassign, name="reassign"),
    path("attempts/<int:attempt_id>/verdict/", views.verdict, name="verdict"),
    path("ws-ticket/", views.ws_ticket, name="ws-ticket"),
]
