"""config.sql: the fixed statements of the phone-traffic hot path, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from django.db import IntegrityError, transaction

from config import sql
from exams.models import Subject

pytestmark = [pytest.mark.django_db, pytest.mark.integration]  # SQLite and PostgreSQL


def codes_among(ids: list[int]) -> tuple[str, list[str]]:
    conn = sql.db()
    q = conn.ops.quote_name
    statement = f"SELECT {q('code')} FROM {q(Subject._meta.db_table)} WHERE {sql.in_ids(conn, q('id'))}"  # noqa: S608
    with conn.cursor() as cursor:
        cursor.execute(statement, [sql.ids_param(conn, ids)])
        return statement, sorted(row[0] for row in cursor.fetchall())


def test_one_parameter_selects_a_set_of_ids_with_the_same_statement_text_for_any_count() -> None:
    a, b, c = (Subject.objects.create(code=code, name=code) for code in ("sql-a", "sql-b", "sql-c"))

    one, found_one = codes_among([b.pk])
    two, found_two = codes_among([c.pk, a.pk, c.pk + 1000])

    assert found_one == ["sql-b"] and found_two == ["sql-a", "sql-c"]
    assert one == two  # the driver parses it once


def test_parameters_apart_reports_a_constraint_violation_as_djangos_integrity_error() -> None:
    subject = Subject.objects.create(code="sql-dup", name="dup")
    conn = sql.db()
    q = conn.ops.quote_name
    mark = "%b" if conn.vendor == "postgresql" else "%s"  # binary on PostgreSQL, as the audio insert
    statement = f"INSERT INTO {q(Subject._meta.db_table)} ({q('code')}, {q('name')}, {q('name_en')}) VALUES ({mark}, {mark}, {mark})"  # noqa: E501, S608

    with pytest.raises(IntegrityError), transaction.atomic(), sql.parameters_apart(conn) as cursor:
        cursor.execute(statement, [subject.code, "again", ""])

    assert list(Subject.objects.filter(code="sql-dup").values_list("name", flat=True)) == ["dup"]
