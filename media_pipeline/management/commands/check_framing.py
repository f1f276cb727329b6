"""`manage.py check_framing IMAGE [IMAGE ...] --json`: the framing and quality report of photos.

Pure checks only: no database, no services (works in the embedded profile with nothing running).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from media_pipeline import conf
from media_pipeline.checks import analyse_frame
from media_pipeline.checks.image import UndecodableImage


class Command(BaseCommand):
    help = "Analyse photos as phone snapshots: people, head/chest/desk in view, exposure, blur, covered lens."
    requires_system_checks: list[str] = []  # no database needed

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("images", nargs="+", help="image files (JPEG or PNG)")
        parser.add_argument("--json", action="store_true", help="print one JSON object (file name → result)")

    def handle(self, *args: Any, **options: Any) -> None:
        thresholds = conf.thresholds()
        detector = conf.detector()
        results: dict[str, Any] = {}
        for raw in options["images"]:
            path = Path(raw)
            try:
                report = analyse_frame(path.read_bytes(), thresholds=thresholds, detector=detector)
            except OSError as exc:
                results[path.name] = {"error": "unreadable", "detail": exc.strerror or type(exc).__name__}
                continue
            except UndecodableImage:
                results[path.name] = {"error": "not_an_image"}
                continue
            results[path.name] = {
                **report.summary(),
                "passed": report.passed,
                "failing": list(report.failing),
                "guidance": report.guidance(),
                "duration_ms": round(report.duration_ms, 1),
            }
        if options["json"]:
            self.stdout.write(json.dumps(results, ensure_ascii=False, sort_keys=True))
            return
        for name, result in results.items():
            if "error" in result:
                self.stdout.write(f"{name}: error {result['error']}")
                continue
            status = "OK" if result["passed"] else "FAIL " + ", ".join(result["failing"])
            self.stdout.write(f"{name}: persons={result['person_count']} {status}")
            for line in result["guidance"]:
                self.stdout.write(f"  {line['zh']} / {line['en']}")
