"""The phone's resume point (PhoneDevice.last_acked_seq) is consistent with what is durably stored.

A reconnecting phone is told ``resume_from = last_acked_seq`` and sends only the frames after it. The
point used to move in a second statement after the snapshot row's transaction had committed, so a
hello arriving in between (under load) saw the frame stored but resume_from one behind. Now both are
written in one transaction; these tests check that and the "never lowered" rule.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection

from exams.models import Attempt
from media_pipeline import errors, services
from media_pipeline.models import Snapshot
from monitor.models import PhoneDevice
from tests.exams.helpers import make_attempt
from tests.media_pipeline import images

pytestmark = pytest.mark.integration  # SQLite and PostgreSQL


@pytest.fixture
def device(db: None) -> PhoneDevice:
    attempt: Attempt = make_attempt()
    return PhoneDevice.objects.create(attempt=attempt, kind=PhoneDevice.Kind.MINIPROGRAM)


@pytest.mark.django_db(transaction=True)
def test_the_row_and_the_resume_point_are_written_in_one_transaction(device: PhoneDevice) -> None:
    seen: list[tuple[str, int | None]] = []

    def spy(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        outer = id(connection.atomic_blocks[0]) if connection.in_atomic_block else None
        if sql.startswith('INSERT INTO "media_pipeline_snapshot"'):
            seen.append(("insert snapshot", outer))
        elif sql.startswith('UPDATE "monitor_phonedevice"') and "last_acked_seq" in sql:
            seen.append(("raise resume point", outer))
        return execute(sql, params, many, context)

    with connection.execute_wrapper(spy):
        snap = services.snapshot_ingest(device_id=device.pk, seq=3, data=images.photo_jpeg("astronaut"))

    assert [kind for kind, _ in seen] == ["insert snapshot", "raise resume point"]
    assert seen[0][1] is not None and seen[0][1] == seen[1][1]  # same outermost atomic block
    device.refresh_from_db()
    assert device.last_acked_seq == 3 == snap.seq


def test_a_lower_or_repeated_seq_never_lowers_the_resume_point(device: PhoneDevice) -> None:
    services.snapshot_ingest(device_id=device.pk, seq=5, data=images.photo_jpeg("astronaut"))
    services.snapshot_ingest(device_id=device.pk, seq=2, data=images.photo_jpeg("astronaut"))
    services.snapshot_ingest(device_id=device.pk, seq=5, data=images.photo_jpeg("astronaut"))

    device.refresh_from_db()
    assert device.last_acked_seq == 5
    assert sorted(Snapshot.objects.filter(device=device).values_list("seq", flat=True)) == [2, 5]


def test_a_refused_frame_moves_nothing(device: PhoneDevice) -> None:
    services.snapshot_ingest(device_id=device.pk, seq=1, data=images.photo_jpeg("astronaut"))

    with pytest.raises(errors.ImageRejected):
        services.snapshot_ingest(device_id=device.pk, seq=2, data=b"not an image")

    device.refresh_from_db()
    assert device.last_acked_seq == 1
    assert list(Snapshot.objects.filter(device=device).values_list("seq", flat=True)) == [1]
