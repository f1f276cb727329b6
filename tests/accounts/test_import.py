"""Bulk import of candidates and registrations: row-level errors, idempotence, dry run, XLSX."""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.core.management import call_command
from openpyxl import Workbook

from accounts.importing import ImportFileInvalid, candidates_import
from accounts.models import AccountAuditEntry, Candidate
from exams.models import Attempt, ExamSession
from tests.accounts.factories import id_number, session, ticket

pytestmark = [pytest.mark.django_db, pytest.mark.integration]

SHANGHAI = ZoneInfo("Asia/Shanghai")
HEADER = ["ticket_number", "id_number", "name", "subject", "level", "session_start"]


@pytest.fixture
def sessions() -> dict[str, ExamSession]:
    morning = datetime(2026, 12, 12, 8, 30, tzinfo=SHANGHAI)
    afternoon = datetime(2026, 12, 12, 13, 0, tzinfo=SHANGHAI)
    return {
        "asset": session(code="carbon-asset", level="junior", starts_at=morning),
        "trading": session(code="carbon-trading", level="senior", starts_at=afternoon),
    }


def good_rows(n: int) -> list[list[str]]:
    """n registrations: every candidate sits the morning exam, every fourth also the afternoon."""
    rows: list[list[str]] = []
    i = 0
    while len(rows) < n:
        rows.append([ticket(i), id_number(i), f"考生{i}", "carbon-asset", "初级", "2026-12-12 08:30"])
        if i % 4 == 0 and len(rows) < n:
            rows.append([ticket(i), id_number(i), f"考生{i}", "carbon-trading", "senior", "2026-12-12 13:00"])
        i += 1
    return rows


BAD_ROWS: list[tuple[list[str], str]] = [
    (
        ["13900000001", id_number(900001)[:-1] + "0", "坏校验位", "carbon-asset", "初级", "2026-12-12 08:30"],
        "id_number",
    ),
    (
        ["1390000000", id_number(900002), "短手机号", "carbon-asset", "初级", "2026-12-12 08:30"],
        "ticket_number",
    ),
    (["13900000003", id_number(900003), "", "carbon-asset", "初级", "2026-12-12 08:30"], "name"),
    (
        ["13900000004", id_number(900004), "无此科目", "no-such-subject", "初级", "2026-12-12 08:30"],
        "subject",
    ),
    (["13900000005", id_number(900005), "级别错", "carbon-asset", "特级", "2026-12-12 08:30"], "level"),
    (["13900000006", id_number(900006), "时间错", "carbon-asset", "初级", "12/12/2026"], "session_start"),
    (
        ["13900000007", id_number(900007), "无此场次", "carbon-asset", "初级", "2026-12-12 09:30"],
        "session_start",
    ),
    # the same ticket as good row 0 (written first) with another ID number
    ([ticket(0), id_number(900008), "冒名", "carbon-trading", "senior", "2026-12-12 13:00"], "id_number"),
]


def write_csv(path: Path, rows: list[list[str]]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(HEADER)
        writer.writerows(rows)
    return path


def run_import(path: Path, **kwargs: Any) -> Any:
    with path.open("rb") as stream:
        return candidates_import(stream=stream, filename=path.name, **kwargs)


def snapshot_db() -> tuple[int, int, list[tuple[Any, ...]]]:
    return (
        Candidate.objects.count(),
        Attempt.objects.count(),
        list(Candidate.objects.order_by("pk").values_list("pk", "name", "updated_at")[:50]),
    )


def test_10000_rows_with_bad_rows_reports_exactly_those_and_reimport_changes_nothing(
    sessions: dict[str, ExamSession], tmp_path: Path
) -> None:
    rows = good_rows(10_000 - len(BAD_ROWS))
    expected_errors: list[tuple[int, str]] = []
    # Spread the bad rows through the file; file row = index + 2 (the header is row 1).
    for k, (bad, column) in enumerate(BAD_ROWS):
        index = 1000 * (k + 1) + k
        rows.insert(index, bad)
        expected_errors.append((index + 2, column))
    assert len(rows) == 10_000
    path = write_csv(tmp_path / "registrations.csv", rows)
    good_candidates = len({r[0] for r in rows}) - (len(BAD_ROWS) - 1)  # row 8 reuses ticket 0

    progress: list[tuple[int, int]] = []
    report = run_import(path, progress=lambda done, total: progress.append((done, total)))

    assert [(e.row, e.column) for e in report.errors] == expected_errors
    assert report.rows == 10_000
    assert report.candidates_created == good_candidates == Candidate.objects.count()
    assert report.registrations_created == 10_000 - len(BAD_ROWS) == Attempt.objects.count()
    assert progress[-1] == (10_000, 10_000) and len(progress) >= 10
    ids = [id_number(i) for i in range(3)]
    assert all(e.reason.find(n) == -1 for e in report.errors for n in ids)  # never echo an ID number
    assert AccountAuditEntry.objects.filter(action="candidates_imported").count() == 1

    before = snapshot_db()
    again = run_import(path)
    assert (again.candidates_created, again.candidates_updated, again.registrations_created) == (0, 0, 0)
    assert again.registrations_existing == 10_000 - len(BAD_ROWS)
    assert [(e.row, e.column) for e in again.errors] == expected_errors
    assert snapshot_db() == before
    assert AccountAuditEntry.objects.filter(action="candidates_imported").count() == 1


def test_dry_run_reports_and_writes_nothing(sessions: dict[str, ExamSession], tmp_path: Path) -> None:
    path = write_csv(tmp_path / "a.csv", good_rows(10) + [BAD_ROWS[0][0]])
    report = run_import(path, dry_run=True)
    assert (report.candidates_created, report.registrations_created) == (8, 10)
    assert [(e.row, e.column) for e in report.errors] == [(12, "id_number")]
    assert (Candidate.objects.count(), Attempt.objects.count(), AccountAuditEntry.objects.count()) == (
        0,
        0,
        0,
    )


def test_xlsx_with_chinese_headers_session_id_and_numeric_cells(
    sessions: dict[str, ExamSession], tmp_path: Path
) -> None:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["准考证号", "身份证号", "姓名", "场次ID"])
    sheet.append([int(ticket(1)), id_number(1), "李四", sessions["trading"].pk])  # a number cell
    sheet.append([ticket(2), id_number(2).lower(), "王五", sessions["asset"].pk])  # lower-case x is fine
    sheet.append([ticket(3), id_number(3), "赵六", 999_999])
    path = tmp_path / "r.xlsx"
    book.save(path)
    report = run_import(path)
    assert [(e.row, e.column) for e in report.errors] == [(4, "session_id")]
    assert sorted(Attempt.objects.values_list("candidate__name", "session_id")) == sorted(
        [("李四", sessions["trading"].pk), ("王五", sessions["asset"].pk)]
    )


def test_renamed_candidate_is_updated_not_duplicated(
    sessions: dict[str, ExamSession], tmp_path: Path
) -> None:
    run_import(write_csv(tmp_path / "a.csv", good_rows(1)))
    rows = good_rows(1)
    rows[0][2] = "改名"
    report = run_import(write_csv(tmp_path / "b.csv", rows))
    assert (report.candidates_created, report.candidates_updated, report.registrations_created) == (0, 1, 0)
    assert list(Candidate.objects.values_list("name", flat=True)) == ["改名"]


@pytest.mark.parametrize(
    ("name", "content"),
    [("a.txt", b"x"), ("a.csv", b""), ("a.csv", b"ticket_number,name\n1,2\n"), ("a.xlsx", b"not a zip")],
)
def test_unreadable_files_are_one_clear_error(name: str, content: bytes) -> None:
    with pytest.raises(ImportFileInvalid) as err:
        candidates_import(stream=io.BytesIO(content), filename=name)
    assert err.value.code == "import_file_invalid"
    assert Candidate.objects.count() == 0


def test_management_command_json_report(
    sessions: dict[str, ExamSession], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_csv(tmp_path / "a.csv", good_rows(3) + [BAD_ROWS[1][0]])
    call_command("import_candidates", str(path), "--json")
    out = json.loads(capsys.readouterr().out)
    assert (out["candidates_created"], out["registrations_created"]) == (2, 3)
    assert out["errors"] == [
        {"row": 5, "column": "ticket_number", "reason": "准考证号应为11位手机号 (11-digit mobile number)"}
    ]
