"""Celery glue: ids in, services do the work. Every task is safe to run twice."""

from __future__ import annotations

from celery import shared_task

from . import services
from .storage import TRANSIENT_STORAGE_ERRORS, SpoolNotVisible


@shared_task(
    name="media.process_snapshot",
    acks_late=True,
    reject_on_worker_lost=True,  # a killed worker's message goes back to the queue
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


@shared_task(name="media.snapshot_sweep", acks_late=True)
def snapshot_sweep() -> int:
    """Beat's safety net (every MEDIA_SNAPSHOT_SWEEP_SECONDS): queue ``process_snapshot`` again for
    frames stored long ago (``MEDIA_SNAPSHOT_SWEEP_AFTER_S``) and still not analysed or not uploaded —
    a server that died between its commit and its publish, or retries that ran out."""
    from datetime import timedelta

    from django.utils import timezone

    from . import conf, selectors

    older_than = timezone.now() - timedelta(seconds=float(conf.get("MEDIA_SNAPSHOT_SWEEP_AFTER_S")))
    ids = selectors.snapshot_ids_unfinished(stored_before=older_than, limit=1000)
    for snapshot_id in ids:
        process_snapshot.delay(snapshot_id)
    return len(ids)
