"""Celery glue for deadlines (production). Both tasks are idempotent: a redelivered or duplicated task
finds the deadline already fired and does nothing."""

from __future__ import annotations

from celery import shared_task

from exams import deadlines


@shared_task(name="exams.fire_deadline", acks_late=True, ignore_result=True)
def fire_deadline(deadline_id: int) -> bool:
    """Queued with a countdown when the deadline is created. Early or late delivery is harmless:
    it fires only if due (the beat sweep catches anything this task missed)."""
    return deadlines.deadline_fire(deadline_id=deadline_id)


@shared_task(name="exams.sweep_deadlines", acks_late=True, ignore_result=True, expires=10)
def sweep_deadlines() -> int:
    """Run by Celery beat every second: fires whatever is due, including deadlines that fell due while
    no worker was running, the end-time auto-submission and absences."""
    return deadlines.deadline_fire_due().total
