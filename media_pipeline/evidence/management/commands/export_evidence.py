from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from config.errors import ApplicationError
from media_pipeline.evidence import services


class Command(BaseCommand):
    help = "Build a signed evidence bundle for a session or one attempt (stored in evidence storage)."

    def add_arguments(self, parser: Any) -> None:
        scope = parser.add_mutually_exclusive_group(required=True)
        scope.add_argument("--session", type=int, help="exam session id")
        scope.add_argument("--attempt", type=int, help="attempt id")
        parser.add_argument("--out", help="also copy the bundle to this local file")

    def handle(self, *args: Any, **options: Any) -> None:
        actor = services.Actor.command("export_evidence")
        try:
            job = services.export_job_create(
                actor=actor, session_id=options["session"], attempt_id=options["attempt"], enqueue=False
            )
            # Run here rather than through the queue: the operator waits for the file.
            job = services.export_job_build(job_id=job.pk)
            if options["out"]:
                with open(options["out"], "wb") as out:
                    services.export_copy_to(job_id=job.pk, out=out, actor=actor)
        except ApplicationError as exc:
            raise CommandError(f"{exc.code}: {exc.message}") from exc
        self.stdout.write(
            f"export {job.pk}: {job.counts.get('attempts')} attempts, "
            f"{job.counts.get('snapshots')} snapshots, "
            f"{job.size_bytes} bytes, sha256 {job.sha256}\nstored as {job.file_key}"
            + (f"\nwritten to {options['out']}" if options["out"] else "")
        )
