from __future__ import annotations

import json
import os
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.core.serializers.json import DjangoJSONEncoder

from config.errors import ApplicationError
from media_pipeline.evidence import services


class Command(BaseCommand):
    help = (
        "Data-subject requests: --export FILE writes everything held about a candidate as JSON (the ID "
        "number in clear, for the candidate only); --delete erases their personal data (refused under "
        "legal hold). Both are audited."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--ticket", required=True, help="admission ticket number")
        action = parser.add_mutually_exclusive_group(required=True)
        action.add_argument("--export", metavar="FILE")
        action.add_argument("--delete", action="store_true")

    def handle(self, *args: Any, **options: Any) -> None:
        actor = services.Actor.command("candidate_data")
        try:
            if options["export"]:
                result = services.candidate_data_export(ticket_number=options["ticket"], actor=actor)
                # Owner-only permissions: the file holds the clear ID number.
                fd = os.open(options["export"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
                with os.fdopen(fd, "w", encoding="utf-8") as out:
                    json.dump(result.data, out, ensure_ascii=False, indent=2, cls=DjangoJSONEncoder)
                self.stdout.write(f"candidate {result.candidate_id}: data written to {options['export']}")
            else:
                counts = services.candidate_data_delete(ticket_number=options["ticket"], actor=actor)
                self.stdout.write("deleted: " + ", ".join(f"{k}={v}" for k, v in vars(counts).items()))
        except ApplicationError as exc:
            raise CommandError(f"{exc.code}: {exc.message}") from exc
