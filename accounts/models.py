"""Who is who: staff users (proctors, admins), candidates, WeChat identities, API tokens."""

from __future__ import annotations

from django.contrib.auth.models import AbstractUser
from django.db import models
from django.utils.translation import gettext_lazy as _


class Role(models.TextChoices):
    """Django group names; permissions hang off the groups (see accounts.roles)."""

    CANDIDATE = "candidate", _("考生")
    PROCTOR = "proctor", _("监考员")
    CHIEF_PROCTOR = "chief_proctor", _("主监考")
    EXAM_ADMIN = "exam_admin", _("考务管理员")


class User(AbstractUser):
    """Web users (proctors, admins). Candidates authenticate with tokens, not passwords."""

    def has_role(self, role: str) -> bool:
        return self.is_superuser or self.groups.filter(name=role).exists()


class Candidate(models.Model):
    """A registered candidate. The ID number is never stored in clear (hash + encrypted copy)."""

    ticket_number = models.CharField(_("准考证号"), max_length=11, unique=True)
    name = models.CharField(_("姓名"), max_length=64)
    # HMAC-SHA256 of the normalised ID number, keyed by settings.ID_NUMBER_HASH_KEY: equality lookup.
    id_number_hash = models.CharField(max_length=64, unique=True)
    # Fernet token of the ID number (settings.FIELD_ENCRYPTION_KEY): for admin export on request.
    id_number_encrypted = models.TextField()
    id_number_masked = models.CharField(_("身份证号"), max_length=18)
    photo = models.ImageField(_("报名照片"), upload_to="registration_photos/", blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("考生")
        verbose_name_plural = _("考生")

    def __str__(self) -> str:
        return f"{self.name} ({self.ticket_number})"


class WechatIdentity(models.Model):
    """A WeChat user of our mini-program (openid), optionally bound to one candidate."""

    openid = models.CharField(max_length=64, unique=True)
    unionid = models.CharField(max_length=64, blank=True)
    candidate = models.OneToOneField(
        Candidate, null=True, blank=True, on_delete=models.SET_NULL, related_name="wechat_identity"
    )
    # Encrypted; kept only to decrypt user data sent by the mini-program. Never leaves the server.
    session_key_encrypted = models.TextField(blank=True)
    bound_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_login_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"wechat:{self.pk}"


class AuthToken(models.Model):
    """An opaque bearer token we issue (mini-program or desktop client). Only its hash is stored."""

    class Kind(models.TextChoices):
        MINIPROGRAM = "miniprogram", _("小程序")
        DESKTOP = "desktop", _("考试客户端")

    key_hash = models.CharField(max_length=64, unique=True)
    kind = models.CharField(max_length=16, choices=Kind.choices)
    wechat_identity = models.ForeignKey(
        WechatIdentity, null=True, blank=True, on_delete=models.CASCADE, related_name="tokens"
    )
    candidate = models.ForeignKey(
        Candidate, null=True, blank=True, on_delete=models.CASCADE, related_name="tokens"
    )
    # Desktop tokens are scoped to one attempt.
    attempt = models.ForeignKey(
        "exams.Attempt", null=True, blank=True, on_delete=models.CASCADE, related_name="tokens"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["kind", "expires_at"])]


class AccountAuditEntry(models.Model):
    """Append-only audit trail of sensitive account actions (rebinding, imports, evidence access).

    ``actor`` is a label, not a foreign key, so the entry survives the user's deletion and can name
    non-user actors ("system", "command:import_candidates"). ``details`` never holds an ID number.
    """

    actor = models.CharField(max_length=150)
    actor_user = models.ForeignKey(
        "accounts.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    action = models.CharField(max_length=64, db_index=True)
    target = models.CharField(max_length=128)  # e.g. "candidate:12", "attempt:7", "snapshot:99"
    at = models.DateTimeField(db_index=True)
    details = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-at", "-id"]
        verbose_name = _("账户审计记录")
        verbose_name_plural = _("账户审计记录")

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M:%S} {self.actor} {self.action} {self.target}"


class BindingFailure(models.Model):
    """One failed binding attempt; lockout counts these per WeChat identity and per client IP."""

    wechat_identity = models.ForeignKey(
        WechatIdentity, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    ip = models.GenericIPAddressField(null=True, blank=True)
    at = models.DateTimeField(db_index=True)

    class Meta:
        indexes = [
            models.Index(fields=["wechat_identity", "at"]),
            models.Index(fields=["ip", "at"]),
        ]
