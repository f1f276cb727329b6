"""Exam schedule, attempts (one per registration) and the append-only, hash-chained event log."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class Subject(models.Model):
    code = models.SlugField(max_length=32, unique=True)
    name = models.CharField(_("科目"), max_length=64)
    name_en = models.CharField(max_length=128, blank=True)

    def __str__(self) -> str:
        return self.name


class Level(models.TextChoices):
    JUNIOR = "junior", _("初级")
    INTERMEDIATE = "intermediate", _("中级")
    SENIOR = "senior", _("高级")


class ExamSession(models.Model):
    """One sitting of one subject at one level. Every rule number is a per-session setting whose
    default is the value in the candidates' notice (shared/RULES.md)."""

    class Kind(models.TextChoices):
        MOCK = "mock", _("模拟考试")
        FORMAL = "formal", _("正式考试")
        MAKEUP = "makeup", _("补考")

    subject = models.ForeignKey(Subject, on_delete=models.PROTECT, related_name="sessions")
    level = models.CharField(_("级别"), max_length=16, choices=Level.choices)
    kind = models.CharField(_("类型"), max_length=16, choices=Kind.choices, default=Kind.FORMAL)
    starts_at = models.DateTimeField(_("开始时间"))
    ends_at = models.DateTimeField(_("结束时间"))

    login_opens_before_s = models.PositiveIntegerField(default=30 * 60)
    login_closes_after_s = models.PositiveIntegerField(default=15 * 60)
    min_submit_after_s = models.PositiveIntegerField(default=30 * 60)
    leave_return_limit_s = models.PositiveIntegerField(default=20)
    max_screen_leaves = models.PositiveIntegerField(default=3)
    break_limit_s = models.PositiveIntegerField(default=5 * 60)
    reconnect_limit_s = models.PositiveIntegerField(default=5 * 60)
    max_warnings_per_category = models.PositiveIntegerField(default=3)
    makeup_fee_yuan = models.PositiveIntegerField(default=100)
    snapshot_interval_s = models.PositiveIntegerField(default=10)
    retention_days = models.PositiveIntegerField(default=180)

    proctors = models.ManyToManyField(settings.AUTH_USER_MODEL, blank=True, related_name="proctored_sessions")
    # The session `manage.py load_demo` moves to "starting in a few minutes" on every `make run`.
    is_demo = models.BooleanField(default=False)

    class Meta:
        ordering = ["starts_at", "subject__code", "level"]

    def __str__(self) -> str:
        when = f"{self.starts_at:%Y-%m-%d %H:%M}"
        return f"{self.subject} {self.get_level_display()} {self.get_kind_display()} {when}"

    @property
    def is_scored(self) -> bool:
        return self.kind != self.Kind.MOCK


class Attempt(models.Model):
    """A candidate's registration for one session and everything that happens in it.

    ``status`` is written by exactly one function (exams.services.attempt_apply_action) using the
    pure transition table in exams.state_machine.
    """

    candidate = models.ForeignKey("accounts.Candidate", on_delete=models.CASCADE, related_name="attempts")
    session = models.ForeignKey(ExamSession, on_delete=models.PROTECT, related_name="attempts")
    status = models.CharField(max_length=32, default="registered", db_index=True)
    status_reason = models.CharField(max_length=64, blank=True)
    proctor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="assigned_attempts",
    )
    screen_leaves = models.PositiveIntegerField(default=0)
    warnings = models.JSONField(default=dict, blank=True)  # {category: reminders issued}
    score_void = models.BooleanField(default=False)
    # Pending / to_be_scored / unscored (mock) / void (disqualified) / absent; set when the attempt ends.
    outcome = models.CharField(max_length=16, default="pending")
    # Live flags the rules read (the status stays in_progress while these are set).
    focus_lost_at = models.DateTimeField(null=True, blank=True)
    break_requested_at = models.DateTimeField(null=True, blank=True)
    break_request_evidence = models.JSONField(default=dict, blank=True)
    lost_devices = models.JSONField(default=list, blank=True)  # ["phone", "desktop"]
    # Head of the hash chain, updated with every event: removing the last event is detected too.
    event_count = models.PositiveIntegerField(default=0)
    last_event_hash = models.CharField(max_length=64, blank=True)
    monitoring_consent_at = models.DateTimeField(null=True, blank=True)
    legal_hold = models.BooleanField(default=False)
    checked_in_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["candidate", "session"], name="one_attempt_per_session"),
        ]

    def __str__(self) -> str:
        return f"attempt {self.pk}"


class AttemptEvent(models.Model):
    """Append-only log of every decision, hash-chained per attempt (exams.events verifies)."""

    attempt = models.ForeignKey(Attempt, on_delete=models.CASCADE, related_name="events")
    seq = models.PositiveIntegerField()
    kind = models.CharField(max_length=48)
    actor = models.CharField(max_length=64)  # "system", "candidate", "phone", "proctor:<id>"
    cause = models.CharField(max_length=128, blank=True)
    data = models.JSONField(default=dict, blank=True)
    evidence = models.JSONField(default=dict, blank=True)  # {"snapshots": [...], "messages": [...]}
    client_time = models.DateTimeField(null=True, blank=True)  # recorded, never trusted
    created_at = models.DateTimeField()
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64)

    class Meta:
        ordering = ["attempt_id", "seq"]
        constraints = [models.UniqueConstraint(fields=["attempt", "seq"], name="event_seq_unique")]


class Incident(models.Model):
    """One continuous condition (two people, out of frame, voices, ...) for a proctor to decide."""

    class Status(models.TextChoices):
        OPEN = "open", _("待处理")
        CONFIRMED = "confirmed", _("已确认")
        DISMISSED = "dismissed", _("已驳回")

    class Severity(models.IntegerChoices):
        INFO = 1, _("提示")
        WARNING = 2, _("警告")
        CRITICAL = 3, _("严重")

    attempt = models.ForeignKey(Attempt, on_delete=models.CASCADE, related_name="incidents")
    kind = models.CharField(max_length=48)
    severity = models.PositiveSmallIntegerField(choices=Severity.choices, default=Severity.WARNING)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.OPEN)
    first_seen_at = models.DateTimeField()
    last_seen_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True, blank=True)
    occurrences = models.PositiveIntegerField(default=1)
    snapshot_ids = models.JSONField(default=list, blank=True)
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    decided_at = models.DateTimeField(null=True, blank=True)
    note = models.TextField(blank=True)

    class Meta:
        indexes = [models.Index(fields=["attempt", "kind", "status"])]


class Deadline(models.Model):
    """A rule's timer (20 s away from the screen, 5 min break, 5 min lost device) stored in the DB so it
    fires even if the process that created it died. Fired exactly once by exams.deadlines."""

    class Kind(models.TextChoices):
        LEAVE_RETURN = "leave_return", _("返回考试界面")
        BREAK_RETURN = "break_return", _("离开后返回")
        DEVICE_RETURN = "device_return", _("设备重新连接")

    attempt = models.ForeignKey(Attempt, on_delete=models.CASCADE, related_name="deadlines")
    kind = models.CharField(max_length=32, choices=Kind.choices)
    generation = models.PositiveIntegerField()
    due_at = models.DateTimeField(db_index=True)
    created_at = models.DateTimeField()
    fired_at = models.DateTimeField(null=True, blank=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["attempt", "kind", "generation"], name="deadline_generation_unique"
            )
        ]
        indexes = [models.Index(fields=["fired_at", "cancelled_at", "due_at"])]

    def __str__(self) -> str:
        return f"{self.kind}#{self.generation} of attempt {self.attempt_id}"

    @property
    def is_pending(self) -> bool:
        return self.fired_at is None and self.cancelled_at is None


class AttemptWarning(models.Model):
    """One reminder in a category; it counts towards disqualification until corrected."""

    attempt = models.ForeignKey(Attempt, on_delete=models.CASCADE, related_name="warning_records")
    category = models.CharField(max_length=32)
    message = models.CharField(max_length=500, blank=True)
    issued_by = models.CharField(max_length=64)
    issued_at = models.DateTimeField()
    event_seq = models.PositiveIntegerField()
    acked_at = models.DateTimeField(null=True, blank=True)
    corrected_at = models.DateTimeField(null=True, blank=True)
    incident = models.ForeignKey(Incident, null=True, blank=True, on_delete=models.SET_NULL)

    class Meta:
        ordering = ["attempt_id", "issued_at", "pk"]
        indexes = [models.Index(fields=["attempt", "category", "corrected_at"])]


class MakeupRecord(models.Model):
    """A missed scored sitting: the candidate may take a makeup (补考) for the session's fee."""

    attempt = models.OneToOneField(Attempt, on_delete=models.CASCADE, related_name="makeup")
    candidate = models.ForeignKey("accounts.Candidate", on_delete=models.CASCADE, related_name="makeups")
    subject = models.ForeignKey(Subject, on_delete=models.PROTECT)
    level = models.CharField(max_length=16, choices=Level.choices)
    fee_yuan = models.PositiveIntegerField()
    reason = models.CharField(max_length=32)
    created_at = models.DateTimeField()
    paid_at = models.DateTimeField(null=True, blank=True)
