"""Verify the hash chains of attempt event logs; exit code 1 when anything was edited, removed or
reordered."""

from __future__ import annotations

import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from exams.events import verify_chain
from exams.models import Attempt


class Command(BaseCommand):
    help = "Verify the hash-chained event log of one attempt (--attempt) or of all attempts."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--attempt", type=int, help="attempt id (default: all attempts)")

    def handle(self, *args: Any, **options: Any) -> None:
        attempts = Attempt.objects.order_by("pk")
        if options["attempt"] is not None:
            attempts = attempts.filter(pk=options["attempt"])
            if not attempts.exists():
                raise CommandError(f"attempt {options['attempt']} does not exist")
        checked = events = 0
        problems = []
        for attempt in attempts.iterator():
            checked += 1
            events += attempt.event_count
            problems.extend(verify_chain(attempt))
        for problem in problems:
            self.stderr.write(f"TAMPERED {problem}")
        if problems:
            self.stderr.write(f"{len(problems)} problem(s) in {checked} attempt(s)")
            sys.exit(1)
        self.stdout.write(f"OK: {checked} attempt(s), {events} event(s), every chain intact")
