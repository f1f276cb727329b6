"""Benchmark: import a generated N-row registrations CSV (default 10,000) into a throw-away database.

    .venv/bin/python benchmarks/import_candidates.py [--rows 10000] [--database-url URL]

Prints seconds for a dry run, the first import and the (no-op) re-import. Uses a temporary SQLite
database unless --database-url is given (e.g. a scratch PostgreSQL database; it is migrated).
"""

from __future__ import annotations

import argparse
import csv
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="import-bench-"))
    os.environ["MONITOR_DATA_DIR"] = str(tmp)
    os.environ["DATABASE_URL"] = args.database_url or f"sqlite:///{tmp / 'bench.sqlite3'}"
    os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings.embedded"
    import django

    django.setup()
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from django.core.management import call_command

    from accounts.id_numbers import make_valid
    from accounts.importing import candidates_import
    from exams.models import ExamSession, Subject

    call_command("migrate", verbosity=0)
    start = datetime(2026, 12, 12, 8, 30, tzinfo=ZoneInfo("Asia/Shanghai"))
    subject, _ = Subject.objects.get_or_create(code="bench", defaults={"name": "bench"})
    ExamSession.objects.get_or_create(
        subject=subject,
        level="junior",
        starts_at=start,
        defaults={"ends_at": start.replace(hour=10, minute=30)},
    )
    path = tmp / "rows.csv"
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["ticket_number", "id_number", "name", "subject", "level", "session_start"])
        for i in range(args.rows):
            writer.writerow(
                [
                    f"139{i:08d}",
                    make_valid(f"4405241880{i:07d}"),
                    f"考生{i}",
                    "bench",
                    "初级",
                    "2026-12-12 08:30",
                ]
            )

    for label, dry in (("dry run", True), ("import", False), ("re-import", False)):
        if os.environ.get("BENCH_PROFILE") and label == "import":
            import cProfile

            with path.open("rb") as stream:
                cProfile.runctx(
                    "candidates_import(stream=stream, filename=path.name)",
                    globals(),
                    locals(),
                    sort="cumtime",
                )
            continue
        began = time.perf_counter()
        with path.open("rb") as stream:
            report = candidates_import(stream=stream, filename=path.name, dry_run=dry)
        elapsed = time.perf_counter() - began
        print(f"{label:>9}: {elapsed:6.2f} s  ({args.rows / elapsed:,.0f} rows/s)  {report.summary()}")


if __name__ == "__main__":
    main()
