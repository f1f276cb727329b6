"""From reports to flags (pure mapping) and from flags to incidents (the one place that calls exams).

Each analysed frame yields the set of incident kinds it shows; kinds present are reported (exams
extends the open incident of that kind: one incident per continuous condition), kinds of this
source that are absent are cleared. Before the exam starts the same reports only guide the phone.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

logger = logging.getLogger(__name__)

INFO, WARNING, CRITICAL = 1, 2, 3


@dataclass(frozen=True)
class Flag:
    kind: str  # exams incident kind (exams.rules maps some onto the warning categories)
    severity: int


# Report check → incident kind. Kinds that exams.rules knows (out_of_frame, backlight,
# camera_covered, multiple_people, multiple_voices) feed the rules' warning categories.
FRAME_KINDS: dict[str, Flag] = {
    "multiple_people": Flag("multiple_people", CRITICAL),
    "no_person": Flag("out_of_frame", WARNING),
    "head_cut": Flag("head_cut", INFO),
    "blocked": Flag("camera_covered", CRITICAL),
    "backlit": Flag("backlight", WARNING),
    "too_dark": Flag("too_dark", INFO),
    "frozen": Flag("frozen_feed", WARNING),
    "scene_drift": Flag("scene_drift", WARNING),
}
AUDIO_KINDS: dict[str, Flag] = {
    "voices_while_absent": Flag("voices_while_absent", WARNING),
    "multiple_voices": Flag("multiple_voices", CRITICAL),
}
FRAME_SOURCE_KINDS = frozenset(f.kind for f in FRAME_KINDS.values())
AUDIO_SOURCE_KINDS = frozenset(f.kind for f in AUDIO_KINDS.values())

# Statuses in which the cameras are watched for the rules (set-up before the start only guides).
MONITORED_STATUSES = frozenset({"in_progress"})


def frame_flags(report: dict[str, Any]) -> list[Flag]:
    """Flags of one stored report (FrameAnalysis.report)."""
    checks = report.get("checks", {})

    def value(name: str) -> Any:
        return checks.get(name, {}).get("value")

    person_count = int(report.get("person_count", 0))
    raised: list[str] = []
    if value("blocked"):
        raised.append("blocked")  # a covered lens explains everything else: no person, dark, ...
    else:
        if person_count >= 2:
            raised.append("multiple_people")
        elif person_count == 0:
            raised.append("no_person")
        elif value("head_top_visible") is False:
            raised.append("head_cut")
        if value("backlit"):
            raised.append("backlit")
        if value("too_dark"):
            raised.append("too_dark")
        if value("frozen"):
            raised.append("frozen")
        if value("scene_drift"):
            raised.append("scene_drift")
    return [FRAME_KINDS[name] for name in raised]


def audio_flags(audio_report: dict[str, Any]) -> list[Flag]:
    return [flag for name, flag in AUDIO_KINDS.items() if audio_report.get(name)]


def incidents_apply(
    *,
    attempt_id: int,
    attempt_status: str,
    flags: list[Flag],
    source_kinds: frozenset[str],
    seen_at: datetime | None,
    snapshot_id: int | None = None,
    evidence: dict[str, Any] | None = None,
) -> list[str]:
    """Report the raised kinds and clear this source's other kinds. Returns the kinds reported."""
    if attempt_status not in MONITORED_STATUSES:
        return []
    from exams import services as exams_services  # the exams area owns incidents

    raised = {f.kind: f for f in flags}
    for kind, flag in raised.items():
        exams_services.incident_report(
            attempt_id=attempt_id,
            kind=kind,
            severity=flag.severity,
            seen_at=seen_at,
            snapshot_id=snapshot_id,
            evidence=evidence,
        )
    from exams.models import Incident

    still_open = set(
        Incident.objects.filter(
            attempt_id=attempt_id, kind__in=source_kinds, ended_at__isnull=True
        ).values_list("kind", flat=True)
    )
    for kind in sorted(still_open - set(raised)):
        exams_services.incident_clear(attempt_id=attempt_id, kind=kind, seen_at=seen_at)
    return sorted(raised)
