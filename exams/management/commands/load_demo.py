"""Demo data for `make run`: the schedule, a formal session starting in a few minutes, demo candidates,
proctor/proctor-demo and admin/admin-demo. Idempotent (runs on every `make run`)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from exams.schedule import EXAM_TZ
from exams.seeding import DEMO_PASSWORDS, demo_load


class Command(BaseCommand):
    help = "Load demo data (demo candidates' ID numbers are printed: demo data only)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--count", type=int, default=12, help="demo candidates (at most 12)")
        parser.add_argument("--starts-in", type=int, default=5, help="minutes until the demo session starts")

    def handle(self, *args: Any, **options: Any) -> None:
        result = demo_load(count=max(1, min(12, options["count"])), starts_in_minutes=options["starts_in"])
        session = result.session
        starts = session.starts_at.astimezone(EXAM_TZ)
        ends = session.ends_at.astimezone(EXAM_TZ)
        self.stdout.write(
            f"demo session {session.pk}: {session.subject.name} 初级 正式考试 "
            f"{starts:%Y-%m-%d %H:%M}-{ends:%H:%M} (Asia/Shanghai); check-in opens 30 min before the start"
        )
        self.stdout.write(f"users: proctor / {DEMO_PASSWORDS['proctor']}   admin / {DEMO_PASSWORDS['admin']}")
        self.stdout.write("demo candidates (ticket number / ID number — demo data only):")
        for c in result.candidates:
            self.stdout.write(f"  {c.name}  {c.ticket_number}  {c.id_number}  attempt {c.attempt_id}")
