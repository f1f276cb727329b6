"""`manage.py import_candidates FILE [--dry-run]`: candidates and registrations from CSV/XLSX."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from accounts.importing import ImportFileInvalid, candidates_import


class Command(BaseCommand):
    help = (
        "Import candidates and their registrations from a .csv or .xlsx file (columns: ticket_number, "
        "id_number, name, subject, level, session_start | session_id [, kind]). Bad rows are reported "
        "and skipped; re-importing the same file changes nothing."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file")
        parser.add_argument("--dry-run", action="store_true", help="validate and report, write nothing")
        parser.add_argument("--json", action="store_true", help="print the report as JSON")

    def handle(self, *args: Any, **options: Any) -> None:
        path = Path(options["file"])
        if not path.is_file():
            raise CommandError(f"no such file: {path}")
        started = time.monotonic()

        def progress(done: int, total: int) -> None:
            # stderr, so --json output stays parseable
            sys.stderr.write(f"\rvalidated {done}/{total} rows")
            if done == total:
                sys.stderr.write("\n")
            sys.stderr.flush()

        try:
            with path.open("rb") as stream:
                report = candidates_import(
                    stream=stream,
                    filename=path.name,
                    dry_run=options["dry_run"],
                    progress=progress,
                    actor="command:import_candidates",
                )
        except ImportFileInvalid as exc:
            raise CommandError(f"{exc.code}: {exc.message}") from None
        elapsed = time.monotonic() - started
        if options["json"]:
            self.stdout.write(
                json.dumps(
                    {
                        "dry_run": report.dry_run,
                        "rows": report.rows,
                        "candidates_created": report.candidates_created,
                        "candidates_updated": report.candidates_updated,
                        "registrations_created": report.registrations_created,
                        "registrations_existing": report.registrations_existing,
                        "errors": [
                            {"row": e.row, "column": e.column, "reason": e.reason} for e in report.errors
                        ],
                        "seconds": round(elapsed, 3),
                    },
                    ensure_ascii=False,
                )
            )
            return
        for e in report.errors:
            self.stdout.write(f"row {e.row}, column {e.column}: {e.reason}")
        prefix = "[dry run] " if report.dry_run else ""
        self.stdout.write(f"{prefix}{report.summary()} in {elapsed:.2f}s")
