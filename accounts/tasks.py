"""Celery glue for accounts (thin: the work is in accounts.tokens)."""

from __future__ import annotations

from celery import shared_task

from accounts.tokens import tokens_expire_sweep


@shared_task(name="accounts.expire_tokens", acks_late=True, ignore_result=True, expires=50)
def expire_tokens() -> int:
    """Beat, every minute: close the sockets of logins that just expired. Safe to run twice."""
    return len(tokens_expire_sweep())
