"""Load the seed schedule: 4 subjects × 3 levels, a mock day and a formal day. Idempotent."""

from __future__ import annotations

from datetime import date
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from exams import clock
from exams.schedule import EXAM_TZ, default_dates
from exams.seeding import schedule_load


def _date(raw: str) -> date:
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise CommandError(f"not a date (YYYY-MM-DD): {raw!r}") from None


class Command(BaseCommand):
    help = "Load the exam schedule from the candidates' notice (mock 09:00-18:00; formal in four time slots)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--mock-date", help="YYYY-MM-DD (default: tomorrow, Asia/Shanghai)")
        parser.add_argument("--formal-date", help="YYYY-MM-DD (default: the day after tomorrow)")

    def handle(self, *args: Any, **options: Any) -> None:
        mock_default, formal_default = default_dates(clock.now().astimezone(EXAM_TZ).date())
        mock_date = _date(options["mock_date"]) if options["mock_date"] else mock_default
        formal_date = _date(options["formal_date"]) if options["formal_date"] else formal_default
        result = schedule_load(mock_date=mock_date, formal_date=formal_date)
        self.stdout.write(
            f"schedule: mock {mock_date}, formal {formal_date}: {len(result.sessions)} sessions "
            f"({result.sessions_created} new), {result.subjects_created} new subjects"
        )
