"""The console's own records: review verdicts and the audit of what proctors did and looked at.

Status-changing decisions (warn, break approval, force submit, ...) are already recorded as
hash-chained AttemptEvents by exams.services; this audit adds what the event log does not see:
who looked at which evidence, reassignments, verdicts, and the console's HTTP actions.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class ReviewVerdict(models.Model):
    """The current review verdict of one attempt (every change is also in ProctorActionAudit)."""

    class Verdict(models.TextChoices):
        CLEAN = "clean", _("无异常")
        SUSPICIOUS = "suspicious", _("可疑")
        VIOLATION = "violation", _("违规")

    attempt = models.OneToOneField("exams.Attempt", on_delete=models.CASCADE, related_name="review_verdict")
    reviewer = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    verdict = models.CharField(_("结论"), max_length=16, choices=Verdict.choices)
    notes = models.TextField(_("备注"), blank=True, max_length=2000)
    at = models.DateTimeField(_("时间"))

    class Meta:
        verbose_name = _("复核结论")
        verbose_name_plural = _("复核结论")

    def __str__(self) -> str:
        return f"attempt {self.attempt_id}: {self.verdict}"


class ProctorActionAudit(models.Model):
    """Append-only: one row per proctor action or evidence view. ``details`` holds no secrets."""

    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Kept as text too, so the row still names the person after the user is deleted.
    actor_label = models.CharField(max_length=150)
    action = models.CharField(max_length=48, db_index=True)
    session = models.ForeignKey("exams.ExamSession", null=True, on_delete=models.SET_NULL, related_name="+")
    attempt = models.ForeignKey("exams.Attempt", null=True, on_delete=models.SET_NULL, related_name="+")
    target = models.CharField(max_length=64, blank=True)  # e.g. "snapshot:12"
    ok = models.BooleanField(default=True)  # False: refused (the code is in details)
    details = models.JSONField(default=dict, blank=True)
    at = models.DateTimeField(db_index=True)

    class Meta:
        ordering = ["-at", "-pk"]
        indexes = [models.Index(fields=["attempt", "at"])]
        verbose_name = _("监考操作审计")
        verbose_name_plural = _("监考操作审计")

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M:%S} {self.actor_label} {self.action} {self.target}"
