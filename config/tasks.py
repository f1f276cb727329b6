"""Operational tasks (not domain work)."""

from __future__ import annotations

from celery import shared_task
from django.core.cache import cache


@shared_task(name="config.probe")
def probe(key: str) -> None:
    """Writes ``key`` to the cache: proves a worker took a task from the broker and ran it."""
    cache.set(key, "done", timeout=60)
