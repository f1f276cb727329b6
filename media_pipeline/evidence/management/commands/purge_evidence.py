from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from media_pipeline.evidence import selectors, services


class Command(BaseCommand):
    help = (
        "Delete evidence (snapshot files and rows, analyses, audio levels, export bundles) and the "
        "registration photo / encrypted ID number past each session's retention_days. Attempts under "
        "legal hold or with open/confirmed incidents are kept. --dry-run lists what would go."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--dry-run", action="store_true")

    def handle(self, *args: Any, **options: Any) -> None:
        dry_run = bool(options["dry_run"])
        if dry_run:
            plan = selectors.purge_plan(now=services.timezone.now())
            for item in plan.attempts:
                self.stdout.write(
                    f"would purge attempt {item.attempt_id} (session {item.session_id}): "
                    f"{item.snapshots} snapshots, {item.audio_batches} audio batches"
                )
            for attempt_id in plan.held_attempt_ids:
                self.stdout.write(f"kept (legal hold / disputed): attempt {attempt_id}")
        record = services.evidence_purge(actor=services.Actor.command("purge_evidence"), dry_run=dry_run)
        counts = ", ".join(f"{k}={v}" for k, v in record.counts.items())
        self.stdout.write(f"{'dry run' if dry_run else 'purged'} (record {record.pk}): {counts}")
