"""Plain-SQL helpers for the few statements on the phone-traffic hot path (monitor.writer's group commit,
the frame look-up): statements whose text is fixed, so no ORM compilation per call and the driver
parses each text once. docs/reliability.md (steps 5 and 6) has the profiles that put them there."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from django.db import DEFAULT_DB_ALIAS, connections
from django.db.backends.base.base import BaseDatabaseWrapper


def db() -> BaseDatabaseWrapper:
    """This thread's default connection. ``django.db.connection`` is a proxy that looks the connection
    up again on every attribute access; in a loop over rows that look-up was a third of the work."""
    return connections[DEFAULT_DB_ALIAS]


def in_ids(conn: BaseDatabaseWrapper, column: str) -> str:
    """``column`` is one of a set of ids passed as ONE parameter (``ids_param``): the statement text
    is the same for 1 or 1,000 ids. PostgreSQL takes an array; SQLite a JSON list (json_each)."""
    if conn.vendor == "postgresql":
        return f"{column} = ANY(%s)"
    return f"{column} IN (SELECT value FROM json_each(%s))"  # noqa: S608 - a column name, no value


def ids_param(conn: BaseDatabaseWrapper, ids: Iterable[int]) -> Any:
    values = sorted(int(i) for i in ids)
    return values if conn.vendor == "postgresql" else json.dumps(values)


@contextmanager
def parameters_apart(conn: BaseDatabaseWrapper) -> Iterator[Any]:
    """A cursor that sends the parameters apart from the statement text. On PostgreSQL Django's cursor
    binds client-side: psycopg quotes every element of an array parameter into the SQL text, a quarter
    of the audio group commit's CPU; this one binds server-side (binary with ``%b`` placeholders).
    Errors still arrive as Django's (``IntegrityError``, ...). Other databases: the usual cursor."""
    if conn.vendor != "postgresql":
        with conn.cursor() as cursor:
            yield cursor
        return
    import psycopg

    conn.ensure_connection()
    with conn.wrap_database_errors, psycopg.Cursor(conn.connection) as cursor:
        yield cursor
