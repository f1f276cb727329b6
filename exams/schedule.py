"""The seed schedule from the candidates' notice (shared/seeds/000_*.txt, digested in shared/RULES.md)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

EXAM_TZ = ZoneInfo("Asia/Shanghai")


@dataclass(frozen=True)
class SubjectSeed:
    code: str
    name: str
    name_en: str
    starts: time  # formal-day slot
    ends: time


SUBJECTS: tuple[SubjectSeed, ...] = (
    SubjectSeed("carbon-asset", "碳资产管理应用", "Carbon asset management", time(8, 30), time(10, 30)),
    SubjectSeed(
        "carbon-emission", "碳排放管理技术", "Carbon emission management", time(10, 30), time(12, 30)
    ),
    SubjectSeed("carbon-trading", "碳交易管理咨询", "Carbon trading consulting", time(13, 0), time(15, 0)),
    SubjectSeed(
        "carbon-monitoring", "碳监测管理技术", "Carbon monitoring technology", time(15, 0), time(17, 0)
    ),
)
LEVELS: tuple[str, ...] = ("junior", "intermediate", "senior")
MOCK_STARTS, MOCK_ENDS = time(9, 0), time(18, 0)


def at(day: date, clock_time: time) -> datetime:
    return datetime.combine(day, clock_time, tzinfo=EXAM_TZ)


def default_dates(today: date) -> tuple[date, date]:
    """Mock tomorrow, formal the day after (as in the notice: the mock comes first)."""
    return today + timedelta(days=1), today + timedelta(days=2)
