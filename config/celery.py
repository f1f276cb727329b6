"""The Celery application. Production runs workers; the embedded profile runs tasks in-process."""

from __future__ import annotations

import os

from celery import Celery
from celery.signals import worker_init

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.embedded")

app = Celery("monitor")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
app.autodiscover_tasks(["config"])


@worker_init.connect
def _push_through_one_loop(**_: object) -> None:
    """Live pushes from tasks share one event loop (and so one Redis connection) per worker process
    instead of a new loop and connection per push (monitor.broadcast). Set in the main process before
    the pool forks; each pool process starts its loop on its first push."""
    from monitor import broadcast

    broadcast.use_own_loop()
