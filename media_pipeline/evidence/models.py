"""Export jobs, purge records, monitoring-notice consents and the evidence access audit log."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from accounts.models import Candidate
from exams.models import Attempt, ExamSession


class ExportJob(models.Model):
    """One evidence bundle (a signed ZIP) for a session or a single attempt, built by a task."""

    class Scope(models.TextChoices):
        SESSION = "session", _("考试场次")
        ATTEMPT = "attempt", _("单个考生")

    class Status(models.TextChoices):
        QUEUED = "queued", _("排队中")
        RUNNING = "running", _("生成中")
        DONE = "done", _("已完成")
        FAILED = "failed", _("失败")
        PURGED = "purged", _("已按保留期删除")

    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # A label as well as the FK: the job keeps saying who asked after the user is deleted, and
    # commands run by an operator have no user ("command:export_evidence").
    requested_by_label = models.CharField(_("申请人"), max_length=150)
    scope = models.CharField(_("范围"), max_length=16, choices=Scope.choices)
    session = models.ForeignKey(
        "exams.ExamSession", on_delete=models.PROTECT, related_name="+", verbose_name=_("考试场次")
    )
    attempt = models.ForeignKey(
        "exams.Attempt", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    status = models.CharField(_("状态"), max_length=16, choices=Status.choices, default=Status.QUEUED)
    progress = models.PositiveSmallIntegerField(_("进度 %"), default=0)
    file_key = models.CharField(_("存储键"), max_length=255, blank=True)
    size_bytes = models.PositiveBigIntegerField(_("大小 (字节)"), null=True, blank=True)
    sha256 = models.CharField(max_length=64, blank=True)
    counts = models.JSONField(default=dict, blank=True)  # attempts, snapshots, events, ...
    error = models.TextField(_("错误"), blank=True)
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(_("完成时间"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("证据导出")
        verbose_name_plural = _("证据导出")
        constraints = [
            models.CheckConstraint(
                condition=models.Q(scope="session", attempt__isnull=True)
                | models.Q(scope="attempt", attempt__isnull=False),
                name="export_scope_matches_attempt",
            ),
        ]

    def __str__(self) -> str:
        target = f"attempt {self.attempt_id}" if self.attempt_id else f"session {self.session_id}"
        return f"export {self.pk} ({target})"


class AuditAction(models.TextChoices):
    """Actions this area writes to the shared audit trail (accounts.AccountAuditEntry)."""

    EXPORT_REQUESTED = "evidence.export_requested", _("申请导出证据")
    EXPORT_LINK = "evidence.export_link", _("生成下载链接")
    EXPORT_DOWNLOADED = "evidence.export_downloaded", _("下载证据包")
    EXPORT_WRITTEN = "evidence.export_written", _("导出证据包到文件")
    RESULTS_REPORT = "evidence.results_report", _("导出成绩报告")
    PURGE = "evidence.purge", _("保留期清理")
    LEGAL_HOLD = "evidence.legal_hold", _("法律保全变更")
    CANDIDATE_DATA_EXPORT = "evidence.candidate_data_export", _("导出考生个人数据")
    CANDIDATE_DATA_DELETE = "evidence.candidate_data_delete", _("删除考生个人数据")
    CANDIDATE_DATA_REFUSED = "evidence.candidate_data_refused", _("拒绝删除考生个人数据")


class PurgeRecord(models.Model):
    """One run of the retention purge (or its dry run): who, when, what, how much."""

    actor = models.CharField(_("操作人"), max_length=150)
    actor_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    dry_run = models.BooleanField(_("演练"), default=False)
    started_at = models.DateTimeField(_("开始时间"))
    finished_at = models.DateTimeField(_("结束时间"), null=True, blank=True)
    attempt_ids = models.JSONField(default=list, blank=True)  # purged (or would be, on a dry run)
    held_attempt_ids = models.JSONField(default=list, blank=True)  # past retention but kept
    counts = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-started_at", "-id"]
        verbose_name = _("保留期清理记录")
        verbose_name_plural = _("保留期清理记录")

    def __str__(self) -> str:
        return f"purge {self.pk} {'(dry run) ' if self.dry_run else ''}{self.started_at:%Y-%m-%d %H:%M}"


class MonitoringConsent(models.Model):
    """The candidate accepted a version of the monitoring notice for one attempt (before pairing)."""

    attempt = models.ForeignKey("exams.Attempt", on_delete=models.CASCADE, related_name="monitoring_consents")
    notice_version = models.CharField(_("告知书版本"), max_length=32)
    accepted_at = models.DateTimeField(_("同意时间"))

    class Meta:
        verbose_name = _("监控告知同意")
        verbose_name_plural = _("监控告知同意")
        constraints = [
            models.UniqueConstraint(fields=["attempt", "notice_version"], name="one_consent_per_notice"),
        ]


# Proxy models: admin pages of their own for the organiser's actions (export, results report,
# purge, data-subject requests) without editing the exams or accounts admins.
class SessionEvidence(ExamSession):
    class Meta:
        proxy = True
        verbose_name = _("场次证据与成绩")
        verbose_name_plural = _("场次证据与成绩")


class AttemptEvidence(Attempt):
    class Meta:
        proxy = True
        verbose_name = _("考生证据与保全")
        verbose_name_plural = _("考生证据与保全")


class CandidatePrivacy(Candidate):
    class Meta:
        proxy = True
        permissions = [("handle_data_request", "Can export or delete a candidate's personal data on request")]
        verbose_name = _("考生个人数据请求")
        verbose_name_plural = _("考生个人数据请求")
