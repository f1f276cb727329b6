"""Bulk import of candidates and their registrations (exams.Attempt rows) from CSV or XLSX.

One row = one registration: ticket_number, id_number, name, subject (code), level, and the session
either by ``session_id`` or by ``session_start`` (local time, settings.TIME_ZONE; plus an optional
``kind`` when a mock and a formal sitting start together). A candidate with several exams has
several rows with the same ticket and ID number.

- Bad rows are reported (row number as a spreadsheet shows it, column, reason) and skipped; the
  good rows are imported. Reasons never echo an ID number.
- Re-importing the same file changes nothing and reports 0 created (existing candidates and
  registrations are recognised; a changed name is updated).
- Fast: the database is read in a few set-based queries and written with bulk_create, each ID
  number is validated, hashed and (for new candidates only) encrypted once.
"""

from __future__ import annotations

import csv
import io
import zoneinfo
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import IO, Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from accounts import id_numbers
from accounts.models import Candidate
from config.errors import ApplicationError

# Accepted header spellings (English and the Chinese an exam office's spreadsheet uses).
COLUMN_ALIASES: dict[str, tuple[str, ...]] = {
    "ticket_number": ("ticket_number", "ticket", "准考证号", "手机号"),
    "id_number": ("id_number", "id", "身份证号", "身份证号码"),
    "name": ("name", "姓名"),
    "subject": ("subject", "subject_code", "科目代码", "科目"),
    "level": ("level", "级别"),
    "session_start": ("session_start", "starts_at", "开考时间", "考试时间"),
    "session_id": ("session_id", "场次id", "场次"),
    "kind": ("kind", "类型"),
}
REQUIRED = ("ticket_number", "id_number", "name")
LEVELS = {
    "junior": "junior",
    "初级": "junior",
    "intermediate": "intermediate",
    "中级": "intermediate",
    "senior": "senior",
    "高级": "senior",
}
KINDS = {"mock": "mock", "模拟考试": "mock", "模拟": "mock", "formal": "formal", "正式考试": "formal"}
KINDS.update({"正式": "formal", "makeup": "makeup", "补考": "makeup"})
DATETIME_FORMATS = (
    "%Y-%m-%d %H:%M",
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%dT%H:%M",
    "%Y-%m-%dT%H:%M:%S",
    "%Y/%m/%d %H:%M",
)
BATCH = 1000
MAX_ROWS = 200_000


class ImportFileInvalid(ApplicationError):
    code = "import_file_invalid"
    default_message = "导入文件无法读取 (the import file cannot be read)."


@dataclass(frozen=True)
class RowError:
    row: int  # as a spreadsheet numbers it: the header is row 1
    column: str
    reason: str


@dataclass
class ImportReport:
    dry_run: bool
    rows: int = 0
    candidates_created: int = 0
    candidates_updated: int = 0
    registrations_created: int = 0
    registrations_existing: int = 0
    errors: list[RowError] = field(default_factory=list)

    @property
    def changed(self) -> int:
        return self.candidates_created + self.candidates_updated + self.registrations_created

    def summary(self) -> str:
        verb = "would create" if self.dry_run else "created"
        return (
            f"{self.rows} rows: {verb} {self.candidates_created} candidates "
            f"({self.candidates_updated} renamed), {self.registrations_created} registrations "
            f"({self.registrations_existing} already there); {len(self.errors)} rows with errors"
        )


Progress = Callable[[int, int], None]


# --- Reading --------------------------------------------------------------------------------------


def _cell(value: Any) -> str | datetime:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # a spreadsheet turns 13800138000 into 13800138000.0
    return str(value).strip()


def read_rows(stream: IO[bytes], *, filename: str) -> tuple[list[str], list[list[str | datetime]]]:
    """Header (as written) and data rows of a .csv (UTF-8, with or without BOM) or .xlsx file."""
    suffix = Path(filename).suffix.lower()
    try:
        if suffix == ".xlsx":
            from openpyxl import load_workbook

            book = load_workbook(stream, read_only=True, data_only=True)
            sheet = book.worksheets[0]
            raw_rows: Iterable[Iterable[Any]] = sheet.iter_rows(values_only=True)
        elif suffix == ".csv":
            text = io.TextIOWrapper(stream, encoding="utf-8-sig", newline="")
            raw_rows = csv.reader(text)
        else:
            raise ImportFileInvalid("只支持 .csv 和 .xlsx 文件 (only .csv and .xlsx files).")
        rows = [[_cell(v) for v in r] for r in raw_rows]
    except ImportFileInvalid:
        raise
    except Exception as exc:  # noqa: BLE001 - any parser failure is one clear error for the uploader
        raise ImportFileInvalid(extra={"error": type(exc).__name__}) from None
    if not rows:
        raise ImportFileInvalid("文件为空 (the file is empty).")
    if len(rows) > MAX_ROWS + 1:
        raise ImportFileInvalid(f"最多 {MAX_ROWS} 行 (at most {MAX_ROWS} rows).")
    header = [str(h).strip() for h in rows[0]]
    return header, rows[1:]


def _columns(header: list[str]) -> dict[str, int]:
    lookup = {alias.lower(): key for key, aliases in COLUMN_ALIASES.items() for alias in aliases}
    found: dict[str, int] = {}
    for index, title in enumerate(header):
        key = lookup.get(title.strip().lower())
        if key and key not in found:
            found[key] = index
    missing = [c for c in REQUIRED if c not in found]
    if "session_id" not in found and not {"subject", "level", "session_start"} <= found.keys():
        missing.append("session_id | subject+level+session_start")
    if missing:
        raise ImportFileInvalid(
            f"缺少列 (missing columns): {', '.join(missing)}", extra={"missing_columns": missing}
        )
    return found


# --- Validation -----------------------------------------------------------------------------------


@dataclass
class _Row:
    number: int
    ticket: str
    id_hash: str
    id_number: str  # clear, in memory only for encrypting a new candidate's copy
    name: str
    session_id: int


class _SessionIndex:
    def __init__(self) -> None:
        from exams.models import ExamSession, Subject

        self.by_id: dict[int, Any] = {}
        self.by_key: dict[tuple[str, str, datetime], list[Any]] = {}
        for s in ExamSession.objects.select_related("subject"):
            self.by_id[s.pk] = s
            self.by_key.setdefault((s.subject.code, s.level, s.starts_at), []).append(s)
        self.subjects = set(Subject.objects.values_list("code", flat=True))
        self.tz = zoneinfo.ZoneInfo(settings.TIME_ZONE)

    def parse_start(self, raw: str | datetime) -> datetime | None:
        if isinstance(raw, datetime):
            value = raw
        else:
            for fmt in DATETIME_FORMATS:
                try:
                    value = datetime.strptime(raw, fmt)
                    break
                except ValueError:
                    continue
            else:
                try:
                    value = datetime.fromisoformat(raw)
                except ValueError:
                    return None
        return value.replace(tzinfo=self.tz) if timezone.is_naive(value) else value


def _get(row: list[str | datetime], cols: dict[str, int], key: str) -> str | datetime:
    index = cols.get(key)
    if index is None or index >= len(row):
        return ""
    return row[index]


def _text(row: list[str | datetime], cols: dict[str, int], key: str) -> str:
    value = _get(row, cols, key)
    return value.isoformat() if isinstance(value, datetime) else value


def _resolve_session(
    row: list[str | datetime], cols: dict[str, int], sessions: _SessionIndex, number: int
) -> int | RowError:
    """The session a row registers for, or the error to report for the row."""
    raw_id = _text(row, cols, "session_id")
    if raw_id:
        if not raw_id.isdigit() or int(raw_id) not in sessions.by_id:
            return RowError(number, "session_id", "场次不存在 (no such session)")
        return int(raw_id)
    subject = _text(row, cols, "subject")
    if subject not in sessions.subjects:
        return RowError(number, "subject", "科目代码不存在 (unknown subject code)")
    level = LEVELS.get(_text(row, cols, "level").lower())
    if level is None:
        return RowError(number, "level", "级别应为 初级/中级/高级 (junior/intermediate/senior)")
    start = sessions.parse_start(_get(row, cols, "session_start"))
    if start is None:
        return RowError(number, "session_start", "时间格式应为 YYYY-MM-DD HH:MM (bad date/time)")
    matches = sessions.by_key.get((subject, level, start), [])
    kind_raw = _text(row, cols, "kind")
    if kind_raw:
        kind = KINDS.get(kind_raw.lower())
        if kind is None:
            return RowError(number, "kind", "类型应为 模拟考试/正式考试/补考 (mock/formal/makeup)")
        matches = [s for s in matches if s.kind == kind]
    if not matches:
        return RowError(number, "session_start", "没有该科目、级别在此时间的场次 (no such session)")
    if len(matches) > 1:
        return RowError(number, "kind", "同一时间有多场考试，请填写类型 (several sessions: give kind)")
    return int(matches[0].pk)


def _validate(
    rows: list[list[str | datetime]], cols: dict[str, int], report: ImportReport, progress: Progress | None
) -> list[_Row]:
    sessions = _SessionIndex()
    good: list[_Row] = []
    for offset, row in enumerate(rows):
        number = offset + 2
        if progress and offset and offset % BATCH == 0:
            progress(offset, len(rows))
        if not any(str(v).strip() for v in row):
            continue  # blank lines are not errors
        report.rows += 1
        error: RowError | None = None
        ticket = _text(row, cols, "ticket_number")
        raw_id = _text(row, cols, "id_number")
        name = _text(row, cols, "name")
        if not id_numbers.TICKET_FORMAT.match(ticket):
            error = RowError(number, "ticket_number", "准考证号应为11位手机号 (11-digit mobile number)")
        elif not id_numbers.is_valid(raw_id):
            error = RowError(number, "id_number", "身份证号格式或校验位不正确 (invalid ID number)")
        elif not name or len(name) > 64:
            error = RowError(number, "name", "姓名为空或超过64字 (name empty or too long)")
        resolved = error or _resolve_session(row, cols, sessions, number)
        if isinstance(resolved, RowError):
            report.errors.append(resolved)
            continue
        number_clean = id_numbers.normalise(raw_id)
        good.append(
            _Row(
                number=number,
                ticket=ticket,
                id_hash=id_numbers.lookup_hash(number_clean),
                id_number=number_clean,
                name=name,
                session_id=resolved,
            )
        )
    if progress:
        progress(len(rows), len(rows))
    return good


def _chunks(items: list[str]) -> Iterator[list[str]]:
    for i in range(0, len(items), 900):  # below SQLite's bound-parameter limit on old builds
        yield items[i : i + 900]


def _reconcile(good: list[_Row], report: ImportReport) -> tuple[dict[str, _Row], dict[str, str], list[_Row]]:
    """Check rows against each other and the database. Returns (new candidates by ticket,
    renames {ticket: name}, rows whose registration may be created)."""
    tickets = sorted({r.ticket for r in good})
    hashes = sorted({r.id_hash for r in good})
    existing_by_ticket: dict[str, tuple[str, str]] = {}
    for chunk in _chunks(tickets):
        for t, h, n in Candidate.objects.filter(ticket_number__in=chunk).values_list(
            "ticket_number", "id_number_hash", "name"
        ):
            existing_by_ticket[t] = (h, n)
    ticket_of_hash: dict[str, str] = {}
    for chunk in _chunks(hashes):
        ticket_of_hash.update(
            Candidate.objects.filter(id_number_hash__in=chunk).values_list("id_number_hash", "ticket_number")
        )
    seen_ticket: dict[str, _Row] = {}  # first row of each ticket in the file
    new: dict[str, _Row] = {}
    renames: dict[str, str] = {}
    accepted: list[_Row] = []
    for r in good:
        first = seen_ticket.get(r.ticket)
        if first is not None and (first.id_hash != r.id_hash or first.name != r.name):
            column = "id_number" if first.id_hash != r.id_hash else "name"
            report.errors.append(
                RowError(
                    r.number,
                    column,
                    f"与第{first.number}行同一准考证号但信息不同 (differs from row {first.number})",
                )
            )
            continue
        owner = ticket_of_hash.get(r.id_hash)
        if owner is not None and owner != r.ticket:
            report.errors.append(
                RowError(
                    r.number, "id_number", "该身份证号已用于其他准考证号 (ID number used by another ticket)"
                )
            )
            continue
        existing = existing_by_ticket.get(r.ticket)
        if existing is not None and existing[0] != r.id_hash:
            report.errors.append(
                RowError(
                    r.number,
                    "id_number",
                    "准考证号已存在且身份证号不同 (ticket exists with another ID number)",
                )
            )
            continue
        if first is None:
            seen_ticket[r.ticket] = r
            ticket_of_hash[r.id_hash] = r.ticket
            if existing is None:
                new[r.ticket] = r
            elif existing[1] != r.name:
                renames[r.ticket] = r.name
        accepted.append(r)
    return new, renames, accepted


def candidates_import(
    *,
    stream: IO[bytes],
    filename: str,
    dry_run: bool = False,
    progress: Progress | None = None,
    actor: str = "system",
) -> ImportReport:
    """Import a CSV/XLSX file of registrations (see the module docstring). All-or-nothing for the good
    rows: either every good row is written or (on an unexpected failure) none is."""
    from exams.models import Attempt

    header, rows = read_rows(stream, filename=filename)
    cols = _columns(header)
    report = ImportReport(dry_run=dry_run)
    good = _validate(rows, cols, report, progress)
    with transaction.atomic():
        new, renames, accepted = _reconcile(good, report)
        report.candidates_created = len(new)
        report.candidates_updated = len(renames)
        if not dry_run:
            Candidate.objects.bulk_create(
                [
                    Candidate(
                        ticket_number=r.ticket,
                        name=r.name,
                        id_number_hash=r.id_hash,
                        id_number_encrypted=id_numbers.encrypt(r.id_number),
                        id_number_masked=id_numbers.mask(r.id_number),
                    )
                    for r in new.values()
                ],
                batch_size=BATCH,
            )
            if renames:
                to_update = list(Candidate.objects.filter(ticket_number__in=list(renames)))
                for c in to_update:
                    c.name = renames[c.ticket_number]
                Candidate.objects.bulk_update(to_update, ["name"], batch_size=BATCH)
        tickets = sorted({r.ticket for r in accepted})
        pk_of: dict[str, int] = {}
        for chunk in _chunks(tickets):
            pk_of.update(Candidate.objects.filter(ticket_number__in=chunk).values_list("ticket_number", "pk"))
        existing_pairs: set[tuple[int, int]] = set()
        known_ids = sorted({str(pk) for pk in pk_of.values()})
        for chunk in _chunks(known_ids):
            existing_pairs.update(
                Attempt.objects.filter(candidate_id__in=[int(c) for c in chunk]).values_list(
                    "candidate_id", "session_id"
                )
            )
        to_create: dict[tuple[str, int], _Row] = {}
        for r in accepted:
            pk = pk_of.get(r.ticket)
            if pk is not None and (pk, r.session_id) in existing_pairs:
                report.registrations_existing += 1
            elif (r.ticket, r.session_id) in to_create:
                report.registrations_existing += 1  # the same registration twice in the file
            else:
                to_create[(r.ticket, r.session_id)] = r
        report.registrations_created = len(to_create)
        if not dry_run:
            Attempt.objects.bulk_create(
                [Attempt(candidate_id=pk_of[t], session_id=s) for (t, s) in to_create],
                batch_size=BATCH,
            )
            if report.changed:
                from accounts.services import audit_record

                audit_record(
                    actor=actor,
                    action="candidates_imported",
                    target=f"file:{Path(filename).name[:100]}",
                    details={
                        "rows": report.rows,
                        "candidates_created": report.candidates_created,
                        "candidates_updated": report.candidates_updated,
                        "registrations_created": report.registrations_created,
                        "errors": len(report.errors),
                    },
                )
    report.errors.sort(key=lambda e: (e.row, e.column))
    return report
