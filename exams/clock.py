"""The one clock every exam rule reads. Server time decides; tests move it explicitly.

``now()`` is ``django.utils.timezone.now()`` unless a test froze or shifted it. The override is
process-wide (not thread-local) on purpose: concurrency tests run worker threads that must see the
same frozen time as the test body.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta

from django.utils import timezone

_lock = threading.Lock()
_frozen: datetime | None = None


def now() -> datetime:
    frozen = _frozen
    return frozen if frozen is not None else timezone.now()


def freeze(at: datetime) -> None:
    if timezone.is_naive(at):
        raise ValueError("the exam clock takes aware datetimes only")
    global _frozen
    with _lock:
        _frozen = at


def advance(seconds: float) -> datetime:
    """Move a frozen clock forward (tests)."""
    global _frozen
    with _lock:
        if _frozen is None:
            raise RuntimeError("advance() needs a frozen clock; call freeze() first")
        _frozen = _frozen + timedelta(seconds=seconds)
        return _frozen


def unfreeze() -> None:
    global _frozen
    with _lock:
        _frozen = None


@contextmanager
def frozen_at(at: datetime) -> Iterator[None]:
    freeze(at)
    try:
        yield
    finally:
        unfreeze()
