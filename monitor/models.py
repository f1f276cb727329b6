"""Pairing of the phone monitor with the desktop attempt, and the phone devices themselves."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class PairingToken(models.Model):
    """Shown by the desktop as a QR code; claimed once by the candidate's phone. Stored hashed."""

    attempt = models.ForeignKey("exams.Attempt", on_delete=models.CASCADE, related_name="pairing_tokens")
    token_hash = models.CharField(max_length=64, unique=True)
    # The raw token and fallback code are HMAC(SECRET_KEY, nonce): the server can re-render the QR
    # while it is shown, yet a database leak alone yields no usable code.
    secret_nonce = models.CharField(max_length=64, default="")
    confirm_code = models.CharField(max_length=8)  # shown on both screens
    fallback_code_hash = models.CharField(max_length=64, unique=True)  # typed when the QR cannot be scanned
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    claimed_at = models.DateTimeField(null=True, blank=True)
    device = models.ForeignKey(
        "monitor.PhoneDevice", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )


class PhoneDevice(models.Model):
    """One phone monitor session bound to an attempt. Pairing a new phone revokes the old one."""

    class Kind(models.TextChoices):
        MINIPROGRAM = "miniprogram", _("微信小程序")
        BROWSER = "browser", _("手机浏览器")

    attempt = models.ForeignKey("exams.Attempt", on_delete=models.CASCADE, related_name="devices")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    wechat_identity = models.ForeignKey(
        "accounts.WechatIdentity", null=True, blank=True, on_delete=models.SET_NULL
    )
    user_agent = models.CharField(max_length=256, blank=True)
    paired_at = models.DateTimeField(auto_now_add=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoke_reason = models.CharField(max_length=64, blank=True)
    last_seen_at = models.DateTimeField(null=True, blank=True)
    lost_at = models.DateTimeField(null=True, blank=True)
    last_acked_seq = models.PositiveIntegerField(default=0)

    class Meta:
        indexes = [models.Index(fields=["revoked_at", "lost_at", "last_seen_at"])]


class WsTicket(models.Model):
    """Short-lived, single-use ticket to open a WebSocket (no long-lived token in a URL)."""

    class Role(models.TextChoices):
        PHONE = "phone"
        DESKTOP = "desktop"
        PROCTOR = "proctor"

    ticket_hash = models.CharField(max_length=64, unique=True)
    role = models.CharField(max_length=16, choices=Role.choices)
    attempt = models.ForeignKey("exams.Attempt", null=True, blank=True, on_delete=models.CASCADE)
    device = models.ForeignKey(PhoneDevice, null=True, blank=True, on_delete=models.CASCADE)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE)
    # The login behind a phone/desktop socket: revoking it closes the socket (accounts.signals).
    auth_token = models.ForeignKey(
        "accounts.AuthToken", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)


class DesktopPresence(models.Model):
    """Liveness of the desktop exam client's socket (one row per attempt), like PhoneDevice's for the
    phone: sockets write ``last_seen_at`` (throttled), and the sweep of every server process marks a
    desktop silent past the heartbeat timeout lost, even if the process holding its socket died."""

    attempt = models.OneToOneField(
        "exams.Attempt", on_delete=models.CASCADE, primary_key=True, related_name="desktop_presence"
    )
    connected_at = models.DateTimeField()
    last_seen_at = models.DateTimeField()
    lost_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["lost_at", "last_seen_at"])]
