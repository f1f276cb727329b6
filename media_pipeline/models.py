"""Snapshots from the phone, their analysis, audio level batches and the approved reference frame."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class Snapshot(models.Model):
    """One image from the phone, stored content-addressed (sha256) in evidence storage."""

    class Analysis(models.TextChoices):
        PENDING = "pending"
        DONE = "done"
        FAILED = "failed"

    attempt = models.ForeignKey("exams.Attempt", on_delete=models.CASCADE, related_name="snapshots")
    device = models.ForeignKey("monitor.PhoneDevice", on_delete=models.CASCADE, related_name="snapshots")
    seq = models.PositiveIntegerField()
    captured_at = models.DateTimeField(null=True, blank=True)  # the phone's clock: recorded, not trusted
    received_at = models.DateTimeField()
    sha256 = models.CharField(max_length=64, db_index=True)
    storage_key = models.CharField(max_length=255)
    uploaded = models.BooleanField(default=True)  # False while only in the local spool (S3 down)
    content_type = models.CharField(max_length=32)
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()
    size_bytes = models.PositiveIntegerField()
    analysis_status = models.CharField(max_length=16, choices=Analysis.choices, default=Analysis.PENDING)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["device", "seq"], name="snapshot_seq_unique")]
        indexes = [models.Index(fields=["attempt", "received_at"])]


class FrameAnalysis(models.Model):
    snapshot = models.OneToOneField(Snapshot, on_delete=models.CASCADE, related_name="analysis")
    report = models.JSONField()
    passed = models.BooleanField()
    person_count = models.PositiveSmallIntegerField()
    analyzer_version = models.CharField(max_length=32)
    duration_ms = models.FloatField()
    created_at = models.DateTimeField(auto_now_add=True)


class AudioBatch(models.Model):
    """A batch of sound levels (dBFS, one per interval) from the phone's microphone; no raw audio."""

    attempt = models.ForeignKey("exams.Attempt", on_delete=models.CASCADE, related_name="audio_batches")
    device = models.ForeignKey("monitor.PhoneDevice", on_delete=models.CASCADE, related_name="audio_batches")
    seq = models.PositiveIntegerField()
    started_at = models.DateTimeField(null=True, blank=True)  # the phone's clock
    received_at = models.DateTimeField()
    interval_ms = models.PositiveIntegerField()
    levels = models.BinaryField()  # signed bytes, dBFS rounded (compact evidence)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["device", "seq"], name="audio_seq_unique")]


class ReferenceFrame(models.Model):
    """The approved set-up frame; drift against it during the exam is a flag."""

    attempt = models.OneToOneField("exams.Attempt", on_delete=models.CASCADE, related_name="reference_frame")
    snapshot = models.ForeignKey(Snapshot, on_delete=models.CASCADE)
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    approved_automatically = models.BooleanField(default=False)
    approved_at = models.DateTimeField()
    features = models.JSONField(default=dict)
