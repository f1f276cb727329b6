from __future__ import annotations

import json
import sys
from typing import Any

from django.core.management.base import BaseCommand

from media_pipeline.evidence import bundle, signing


class Command(BaseCommand):
    help = (
        "Verify an evidence bundle: the Ed25519 signature of manifest.json, then every file's SHA-256 "
        "and size. Names each changed, missing or added file. Exit 0 when intact, 1 otherwise."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("bundle")
        parser.add_argument(
            "--public-key",
            help="trusted public key (hex, from `manage.py export_public_key`); default: this deployment's",
        )
        parser.add_argument("--json", action="store_true", help="machine-readable report")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            key = (
                signing.public_key_from_hex(options["public_key"])
                if options["public_key"]
                else signing.configured_public_key()
            )
        except ValueError as exc:
            self.stderr.write(f"invalid public key: {exc}")
            sys.exit(2)
        report = bundle.verify_bundle(options["bundle"], key)
        if options["json"]:
            self.stdout.write(
                json.dumps(
                    {
                        "ok": report.ok,
                        "signature_ok": report.signature_ok,
                        "files_checked": report.files_checked,
                        "problems": [
                            {"kind": p.kind, "path": p.path, "detail": p.detail} for p in report.problems
                        ],
                    },
                    ensure_ascii=False,
                )
            )
        else:
            for problem in report.problems:
                self.stdout.write(str(problem))
            verdict = "OK" if report.ok else "FAILED"
            self.stdout.write(
                f"{verdict}: signature {'valid' if report.signature_ok else 'INVALID'}, "
                f"{report.files_checked} files checked, {len(report.problems)} problem(s)"
            )
        if not report.ok:
            sys.exit(1)
