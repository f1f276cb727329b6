"""Celery glue: ids in, services do the work. Every task is safe to run twice."""

from __future__ import annotations

from celery import shared_task

from . import services
from .storage import TRANSIENT_STORAGE_ERRORS, SpoolNotVisible


@shared_task(
    name="media.analyse_snapshot",
    acks_late=True,
    reject_on_worker_lost=True,  # a killed worker's message goes back to the queue
    autoretry_for=TRANSIENT_STORAGE_ERRORS,
    retry_backoff=2,
    retry_backoff_max=60,
    max_retries=20,
)
def analyse_snapshot(snapshot_id: int) -> None:
    services.snapshot_analyse(snapshot_id=snapshot_id)


@shared_task(
    name="media.process_snapshot",
    acks_late=True,
    reject_on_worker_lost=True,
    autoretry_for=(*TRANSIENT_STORAGE_ERRORS, SpoolNotVisible),
    retry_backoff=2,
    retry_backoff_max=120,
    max_retries=None,  # S3 outages end; the spool keeps the bytes meanwhile
)
def process_snapshot(snapshot_id: int) -> None:
    """What every stored frame needs, in one message (a Celery publish costs the ASGI process ~1 ms
    of CPU): the analysis first (the proctor waits for it; it reads the spool), then the upload of
    a spooled file to S3. A retry repeats only what is not done."""
    services.snapshot_analyse(snapshot_id=snapshot_id)
    services.snapshot_upload_spooled(snapshot_id=snapshot_id)


@shared_task(
    name="media.upload_spooled_snapshot",
    acks_late=True,
    reject_on_worker_lost=True,
    autoretry_for=(*TRANSIENT_STORAGE_ERRORS, SpoolNotVisible),
    retry_backoff=5,
    retry_backoff_max=120,
    max_retries=None,  # S3 outages end; the spool keeps the bytes meanwhile
)
def upload_spooled_snapshot(snapshot_id: int) -> None:
    services.snapshot_upload_spooled(snapshot_id=snapshot_id)


@shared_task(name="media.upload_spooled_sweep", acks_late=True)
def upload_spooled_sweep() -> int:
    """Periodic safety net (beat): queue an upload for every snapshot still only in the spool."""
    from .models import Snapshot

    ids = list(Snapshot.objects.filter(uploaded=False).values_list("pk", flat=True)[:1000])
    for snapshot_id in ids:
        upload_spooled_snapshot.delay(snapshot_id)
    return len(ids)
