"""/m/...: the pairing QR URL (PUBLIC_BASE_URL + "/m/pair?t=<token>") opened in a phone browser."""

from __future__ import annotations

from django.urls import path

from monitor.phone import views

app_name = "phone"

urlpatterns = [
    path("pair", views.pair_page, name="pair"),
    path("api/claim", views.ClaimApi.as_view(), name="claim"),
    path("api/state", views.StateApi.as_view(), name="state"),
    path("api/consent", views.ConsentApi.as_view(), name="consent"),
    path("api/ticket", views.TicketApi.as_view(), name="ticket"),
]
