"""Accounts endpoints: /api/v1/auth/... and /api/v1/me."""

from __future__ import annotations

from django.urls import URLPattern, path

from miniprogram_api import views_accounts as views

urlpatterns: list[URLPattern] = [
    path("auth/wechat-login", views.WechatLoginApi.as_view(), name="auth-wechat-login"),
    path("auth/logout", views.LogoutApi.as_view(), name="auth-logout"),
    path("auth/bind", views.BindApi.as_view(), name="auth-bind"),
    path("auth/desktop-login", views.DesktopLoginApi.as_view(), name="auth-desktop-login"),
    path("me", views.MeApi.as_view(), name="me"),
]
