"""Shared pieces of the reliability tests: one daphne server per module, what "nothing changed" means.

The bad-input catalogue sends dozens of refusals; starting a daphne server per case would cost more
than the cases themselves. The module-scoped server below talks to the same test database as the
tests (each test still runs in its own flushed, transactional database).
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
from django.conf import settings

from tests import services
from tests.conftest import child_env
from tests.monitor.conftest import start_server
from tests.monitor.test_realtime import Api


@pytest.fixture(scope="module")
def module_server(
    django_db_setup: Any, django_db_blocker: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[services.Process]:
    """daphne with the deployment's message limits (tests.monitor.conftest), shared by a module."""
    with django_db_blocker.unblock():
        env = child_env()
    proc = start_server(env, tmp_path_factory.mktemp("daphne"))
    yield proc
    proc.stop()


# --- "nothing changed" ------------------------------------------------------------------------------


def evidence_objects() -> set[str]:
    """Every object in evidence storage (local files, or the S3 bucket) plus the local spool."""
    from django.core.files.storage import FileSystemStorage, storages

    found: set[str] = set()
    store: Any = storages["evidence"]
    if isinstance(store, FileSystemStorage):
        root = Path(store.location)
        if root.exists():
            found |= {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()}
    else:
        client = store.connection.meta.client
        pages = client.get_paginator("list_objects_v2").paginate(Bucket=store.bucket_name)
        found |= {obj["Key"] for page in pages for obj in page.get("Contents", [])}
    spool = getattr(settings, "SNAPSHOT_SPOOL_DIR", "")
    if spool and Path(spool).exists():
        found |= {"spool:" + str(p.relative_to(spool)) for p in Path(spool).rglob("*") if p.is_file()}
    return found


@dataclass(frozen=True)
class Census:
    """Row counts of everything a refused input could have written, and the stored objects."""

    rows: dict[str, int]
    objects: frozenset[str]


COUNTED = [
    "media_pipeline.Snapshot",
    "media_pipeline.AudioBatch",
    "media_pipeline.FrameAnalysis",
    "exams.AttemptEvent",
    "exams.Incident",
    "monitor.PhoneDevice",
    "monitor.PairingToken",
    "accounts.AuthToken",
    "accounts.WechatIdentity",
]


def census() -> Census:
    from django.apps import apps

    rows = {}
    for label in COUNTED:
        model = apps.get_model(label)
        rows[label] = model.objects.count()
    from exams.models import Attempt

    rows.update({f"attempt:{a.pk}:{a.status}": 1 for a in Attempt.objects.all()})
    return Census(rows=rows, objects=frozenset(evidence_objects()))


class CallerApi(Api):
    """One caller address per test: the server outlives the test, and so do its per-IP throttles."""

    def __init__(self, server: services.Process) -> None:
        super().__init__(server)
        self.ip = f"10.{secrets.randbelow(250)}.{secrets.randbelow(250)}.{secrets.randbelow(250) + 1}"

    def headers(self, token: str, scheme: str = "Bearer") -> dict[str, str]:
        return {"Authorization": f"{scheme} {token}", "X-Forwarded-For": self.ip}

    def post(self, path: str, token: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        r = requests.post(self.base + path, json=body or {}, headers=self.headers(token), timeout=10)
        assert r.status_code in (200, 201), r.text
        result: dict[str, Any] = r.json()
        return result
