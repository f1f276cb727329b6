from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from config.errors import ApplicationError
from media_pipeline.evidence import services


class Command(BaseCommand):
    help = "Write the organiser's results report of a session (CSV with BOM, or XLSX)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--session", type=int, required=True)
        parser.add_argument("--format", choices=["csv", "xlsx"], default="csv")
        parser.add_argument("--out", required=True)

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            with open(options["out"], "wb") as out:
                rows = services.results_report_write(
                    session_id=options["session"],
                    fmt=options["format"],
                    out=out,
                    actor=services.Actor.command("results_report"),
                )
        except ApplicationError as exc:
            raise CommandError(f"{exc.code}: {exc.message}") from exc
        self.stdout.write(f"{rows} candidates written to {options['out']}")
