"""Pairing endpoints (/api/v1/pairing/...) and WebSocket tickets (/api/v1/ws-tickets)."""

from __future__ import annotations

from django.urls import URLPattern, path

from miniprogram_api import views_pairing as views

urlpatterns: list[URLPattern] = [
    path("pairing/tokens", views.PairingTokenCreateApi.as_view(), name="pairing-tokens"),
    path("pairing/tokens/<int:pairing_id>/qr.png", views.PairingQrPngApi.as_view(), name="pairing-qr-png"),
    path("pairing/tokens/<int:pairing_id>/qr.svg", views.PairingQrSvgApi.as_view(), name="pairing-qr-svg"),
    path(
        "pairing/tokens/<int:pairing_id>/wxacode.png",
        views.PairingWxacodeApi.as_view(),
        name="pairing-wxacode",
    ),
    path("pairing/claim", views.PairingClaimApi.as_view(), name="pairing-claim"),
    path("pairing/status", views.PairingStatusApi.as_view(), name="pairing-status"),
    path("ws-tickets", views.WsTicketApi.as_view(), name="ws-tickets"),
]
