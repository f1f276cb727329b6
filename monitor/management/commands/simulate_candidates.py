"""Play desktop and phone for N candidates through the real HTTP and WebSocket API.

    python manage.py simulate_candidates --count 50 --url http://127.0.0.1:8000 --duration 60
    python manage.py simulate_candidates --count 20 --images ~/photos --forever

Candidates are created (or reused) here with known ticket/ID numbers and registered to an exam
session that is running now (or ``--session-id``); everything after that goes through the API,
exactly as the mini-program and the desktop client would (monitor.simulator). Prints a JSON
summary; exits non-zero when any error was seen.
"""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction
from django.utils import timezone

from monitor.simulator import CandidateLogin, Options, load_images, simulate

FOREVER_SECONDS = 10 * 365 * 24 * 3600


def sim_ticket(i: int) -> str:
    return f"170{i:08d}"


@transaction.atomic
def prepare_candidates(count: int, session_id: int | None) -> list[CandidateLogin]:
    from accounts import id_numbers
    from accounts.models import Candidate, Role, User
    from accounts.services import candidate_create
    from exams.models import Attempt, ExamSession, Subject

    if session_id is None:
        subject, _ = Subject.objects.get_or_create(
            code="sim-carbon-asset",
            defaults={"name": "碳资产管理应用（模拟监控）", "name_en": "Carbon asset (simulation)"},
        )
        start = timezone.now() - timedelta(minutes=2)
        session = ExamSession.objects.create(
            subject=subject,
            level="junior",
            kind=ExamSession.Kind.MOCK,
            starts_at=start,
            ends_at=start + timedelta(hours=2),
        )
        session.proctors.add(*User.objects.filter(groups__name=Role.PROCTOR))
    else:
        session = ExamSession.objects.get(pk=session_id)
    logins = []
    for i in range(1, count + 1):
        ticket = sim_ticket(i)
        number = id_numbers.make_valid(f"1101011985{i:07d}")
        candidate = Candidate.objects.filter(ticket_number=ticket).first() or candidate_create(
            ticket_number=ticket, id_number=number, name=f"模拟考生{i:03d}"
        )
        Attempt.objects.get_or_create(candidate=candidate, session=session)
        logins.append(CandidateLogin(ticket_number=ticket, id_number=number, session_id=session.pk))
    return logins


class Command(BaseCommand):
    help = "Simulate N candidates (desktop + phone) against a running server through its real API."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--count", type=int, default=10)
        parser.add_argument("--url", default="http://127.0.0.1:8000")
        parser.add_argument("--images", type=Path, default=None, help="folder of .jpg/.png photos")
        parser.add_argument("--duration", type=float, default=30.0, help="seconds of streaming")
        parser.add_argument("--forever", action="store_true", help="stream until interrupted")
        parser.add_argument("--session-id", type=int, default=None, help="use this session's registrations")
        parser.add_argument("--snapshot-interval", type=float, default=3.0)
        parser.add_argument("--concurrency", type=int, default=10, help="logins/pairings at once")
        parser.add_argument("--no-focus", action="store_true", help="do not simulate a short focus loss")

    def handle(self, *args: Any, **opts: Any) -> None:
        if opts["count"] < 1:
            raise CommandError("--count must be at least 1")
        images = load_images(opts["images"])
        logins = prepare_candidates(opts["count"], opts["session_id"])
        duration = FOREVER_SECONDS if opts["forever"] else float(opts["duration"])
        options = Options(
            snapshot_interval=float(opts["snapshot_interval"]),
            focus_events=not opts["no_focus"],
            concurrency=int(opts["concurrency"]),
        )
        self.stderr.write(
            f"simulating {len(logins)} candidates against {opts['url']} (session {logins[0].session_id})"
        )
        stats = asyncio.run(
            simulate(base_url=opts["url"], logins=logins, images=images, duration=duration, opts=options)
        )
        summary = stats.summary()
        self.stdout.write(json.dumps(summary, ensure_ascii=False, indent=2))
        if summary["error_count"]:
            raise CommandError(f"{summary['error_count']} errors: {summary['errors']}")
