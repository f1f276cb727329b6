"""Celery glue: thin, idempotent (the services re-read under lock and return early when done)."""

from __future__ import annotations

from celery import shared_task

from media_pipeline.storage import TRANSIENT_STORAGE_ERRORS


@shared_task(
    name="evidence.export_build",
    acks_late=True,
    # Storage or broker hiccups: the job is marked failed, then rebuilt from scratch on retry.
    autoretry_for=TRANSIENT_STORAGE_ERRORS,
    max_retries=3,
    retry_backoff=10,
)
def export_build(job_id: int) -> None:
    from media_pipeline.evidence.services import export_job_build

    export_job_build(job_id=job_id)


@shared_task(name="evidence.purge", acks_late=True)
def purge() -> None:
    """Daily (settings.CELERY_BEAT_SCHEDULE). Re-running deletes nothing twice."""
    from media_pipeline.evidence.services import Actor, evidence_purge

    evidence_purge(actor=Actor.system("beat:evidence.purge"))
