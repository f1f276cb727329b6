"""Queue a Celery task after the current transaction commits — in either profile.

Production sends the task to the broker (Redis) for worker processes. The embedded profile has no
broker: the task runs on a small thread pool inside the server process, so a consumer or view that
queues work never blocks the event loop or the request. Tasks must be idempotent either way.
"""

from __future__ import annotations

import logging
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from celery import Task
from django.conf import settings
from django.db import close_old_connections, transaction

logger = logging.getLogger(__name__)

_executor: ThreadPoolExecutor | None = None
_executor_lock = threading.Lock()
_pending: set[Future[Any]] = set()


def _get_executor() -> ThreadPoolExecutor:
    global _executor
    with _executor_lock:
        if _executor is None:
            _executor = ThreadPoolExecutor(max_workers=2, thread_name_prefix="inprocess-task")
        return _executor


def _run_in_process(task: Task, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    close_old_connections()
    try:
        result = task.apply(args=args, kwargs=kwargs)
        if result.failed():
            logger.error("in-process task %s failed: %r", task.name, result.result)
    finally:
        close_old_connections()


def enqueue(task: Task, *args: Any, countdown: float | None = None, **kwargs: Any) -> None:
    """Send now (no transaction handling). Prefer ``enqueue_on_commit``."""
    if not getattr(settings, "TASKS_IN_PROCESS", False):
        task.apply_async(args=args, kwargs=kwargs, countdown=countdown)
        return
    if getattr(settings, "TASKS_IN_PROCESS_SYNC", False):
        task.apply(args=args, kwargs=kwargs, throw=True)
        return
    future = _get_executor().submit(_run_in_process, task, args, kwargs)
    _pending.add(future)
    future.add_done_callback(_pending.discard)


def enqueue_on_commit(task: Task, *args: Any, **kwargs: Any) -> None:
    transaction.on_commit(lambda: enqueue(task, *args, **kwargs))


def drain(timeout: float = 30.0) -> None:
    """Wait for in-process tasks queued so far (demo shutdown, tests of the embedded pool)."""
    for future in list(_pending):
        future.result(timeout=timeout)
