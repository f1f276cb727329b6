"""The timing and counting rules of the exam room (shared/RULES.md), as pure functions.

Inputs are frozen snapshots (the session's numbers, the attempt's counters and flags, and ``now`` from
exams.clock); outputs are values or a RuleViolation. No ORM, no clock reads: every boundary (19.9 s vs
20.1 s, the 3rd leave, 14:59 vs 15:01) is testable with plain datetimes. Boundaries are inclusive for the
candidate: exactly 20 s away is still "back in time"; exactly 30:00 after the start may submit.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from exams import errors

# Warning categories of the rules and the incident kinds the cameras report for each.
APPEARANCE = "appearance"  # face covered, headphones, mask, hat (ears and face must be visible)
CAMERA = "camera"  # out of frame, backlight, covered camera, virtual camera
CONDUCT = "conduct"  # talking, another person: a proctor decides (incident), no automatic count
WARNING_CATEGORIES: tuple[str, ...] = (APPEARANCE, CAMERA, CONDUCT)

INCIDENT_CATEGORY: dict[str, str] = {
    "face_covered": APPEARANCE,
    "headphones": APPEARANCE,
    "mask": APPEARANCE,
    "hat": APPEARANCE,
    "out_of_frame": CAMERA,
    "backlight": CAMERA,
    "camera_covered": CAMERA,
    "virtual_camera": CAMERA,
    "multiple_people": CONDUCT,
    "multiple_voices": CONDUCT,
    "talking": CONDUCT,
    "left_without_permission": CONDUCT,
}
# Incidents that are cheating when a proctor confirms them: result void (two or more people seen or
# heard; leaving the monitored area without permission).
CHEATING_KINDS: frozenset[str] = frozenset({"multiple_people", "multiple_voices", "left_without_permission"})
# Categories whose warnings count towards the 3-reminder disqualification.
COUNTED_CATEGORIES: frozenset[str] = frozenset({APPEARANCE, CAMERA})


@dataclass(frozen=True)
class SessionRules:
    """Every number of the rules, per session (defaults = the candidates' notice)."""

    kind: str
    starts_at: datetime
    ends_at: datetime
    login_opens_before_s: int = 30 * 60
    login_closes_after_s: int = 15 * 60
    min_submit_after_s: int = 30 * 60
    leave_return_limit_s: int = 20
    max_screen_leaves: int = 3
    break_limit_s: int = 5 * 60
    reconnect_limit_s: int = 5 * 60
    max_warnings_per_category: int = 3
    makeup_fee_yuan: int = 100

    @property
    def scored(self) -> bool:
        return self.kind != "mock"

    @property
    def login_opens_at(self) -> datetime:
        return self.starts_at - timedelta(seconds=self.login_opens_before_s)

    @property
    def login_closes_at(self) -> datetime:
        return self.starts_at + timedelta(seconds=self.login_closes_after_s)

    @property
    def submit_opens_at(self) -> datetime:
        return self.starts_at + timedelta(seconds=self.min_submit_after_s)


def check_login_window(rules: SessionRules, now: datetime) -> None:
    """First login (check-in): from 30 min before the start until 15 min after it."""
    if now < rules.login_opens_at:
        raise errors.LoginWindowNotOpen(
            extra={
                "opens_at": rules.login_opens_at.isoformat(),
                "seconds_until": _secs(rules.login_opens_at - now),
            }
        )
    if now > rules.login_closes_at:
        raise errors.LoginWindowClosed(extra={"closed_at": rules.login_closes_at.isoformat()})


def check_exam_running(rules: SessionRules, now: datetime) -> None:
    if now < rules.starts_at:
        raise errors.ExamNotStarted(
            extra={"starts_at": rules.starts_at.isoformat(), "seconds_until": _secs(rules.starts_at - now)}
        )
    check_not_over(rules, now)


def check_not_over(rules: SessionRules, now: datetime) -> None:
    if now >= rules.ends_at:
        raise errors.ExamOver(extra={"ended_at": rules.ends_at.isoformat()})


def check_submit_allowed(rules: SessionRules, now: datetime) -> None:
    check_not_over(rules, now)
    if now < rules.submit_opens_at:
        raise errors.SubmitTooEarly(
            extra={
                "allowed_at": rules.submit_opens_at.isoformat(),
                "seconds_until": _secs(rules.submit_opens_at - now),
            }
        )


def back_in_time(lost_at: datetime, now: datetime, limit_s: int) -> bool:
    """Away from the screen (or on a break, or disconnected) no longer than the limit."""
    return (now - lost_at) <= timedelta(seconds=limit_s)


def leaves_exhausted(rules: SessionRules, leaves_counted: int) -> bool:
    """The 3rd counted leave ends the exam (forced submission, no re-entry)."""
    return leaves_counted >= rules.max_screen_leaves


def warnings_exhausted(rules: SessionRules, category: str, uncorrected: int) -> bool:
    """3 uncorrected reminders in a counted category disqualify (score 0)."""
    return category in COUNTED_CATEGORIES and uncorrected >= rules.max_warnings_per_category


def leave_deadline(rules: SessionRules, lost_at: datetime) -> datetime:
    return lost_at + timedelta(seconds=rules.leave_return_limit_s)


def break_deadline(rules: SessionRules, approved_at: datetime) -> datetime:
    return approved_at + timedelta(seconds=rules.break_limit_s)


def reconnect_deadline(rules: SessionRules, lost_at: datetime) -> datetime:
    return lost_at + timedelta(seconds=rules.reconnect_limit_s)


def category_of(kind: str) -> str | None:
    return INCIDENT_CATEGORY.get(kind)


def validate_category(raw: Any) -> str:
    if not isinstance(raw, str) or raw not in WARNING_CATEGORIES:
        raise errors.InvalidActionData(
            "警告类别不正确 (unknown warning category).",
            extra={"field": "category", "allowed": list(WARNING_CATEGORIES)},
        )
    return raw


def _secs(delta: timedelta) -> int:
    return max(0, int(delta.total_seconds() + 0.999))
