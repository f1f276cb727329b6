"""Fire every due exam deadline once (or keep sweeping with --forever): the same sweep as the Celery
beat task and the embedded scheduler thread, for operators and for a process started after downtime."""

from __future__ import annotations

import time
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from exams.deadlines import deadline_fire_due


class Command(BaseCommand):
    help = "Fire due exam deadlines (leave/break/reconnect timeouts, end-time submission, absences)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--forever", action="store_true")
        parser.add_argument("--interval", type=float, default=1.0)

    def handle(self, *args: Any, **options: Any) -> None:
        while True:
            result = deadline_fire_due()
            self.stdout.write(
                f"fired: deadlines {result.deadlines_fired}, time_up {result.time_up}, absent {result.absent}"
            )
            if not options["forever"]:
                return
            time.sleep(options["interval"])
