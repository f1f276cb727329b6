"""Audio batches of many sockets written together (media_pipeline.services.audio_ingest_many,
monitor.writer): the same rows, errors and incidents as one by one, with a constant number of queries."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from config.errors import ApplicationError
from exams import clock
from exams.models import Attempt, Incident
from media_pipeline import services
from media_pipeline.models import AudioBatch
from media_pipeline.services import AudioItem
from monitor import services as monitor_services
from monitor.consumers import db
from monitor.models import PhoneDevice
from monitor.writer import PhoneTrafficWriter
from tests.exams.helpers import make_attempt, start_attempt
from tests.media_pipeline import images

pytestmark = [pytest.mark.django_db, pytest.mark.integration]  # SQLite and PostgreSQL

SILENCE = [-60.0] * 10
NEAR, FAR = [-25.0] * 10, [-38.0] * 10
CONVERSATION = (NEAR + FAR) * 4  # two voices taking turns (media_pipeline.audio)


@pytest.fixture(autouse=True)
def _unfreeze_clock() -> Iterator[None]:
    yield
    clock.unfreeze()


def phone(*, running: bool = False) -> PhoneDevice:
    attempt: Attempt = make_attempt()
    if running:
        start_attempt(attempt)
    return PhoneDevice.objects.create(attempt=attempt, kind=PhoneDevice.Kind.MINIPROGRAM)


def rows(device: PhoneDevice) -> list[tuple[int, int, bytes]]:
    return [
        (b.seq, b.interval_ms, bytes(b.levels))
        for b in AudioBatch.objects.filter(device=device).order_by("seq")
    ]


def test_each_item_gets_its_row_or_its_own_error_and_the_others_are_stored() -> None:
    a, b, gone = phone(), phone(), phone()
    stored = services.audio_ingest(device_id=a.pk, seq=1, interval_ms=100, levels=[-50.0])
    gone.revoked_at = timezone.now()
    gone.save(update_fields=["revoked_at"])
    items = [
        AudioItem(device_id=a.pk, seq=1, interval_ms=100, levels=[-10.0]),  # a repeat: stored one wins
        AudioItem(device_id=a.pk, seq=2, interval_ms=100, levels=[-200.0, -55.4, 3.0]),
        AudioItem(device_id=b.pk, seq=1, interval_ms=5, levels=[-50.0]),  # interval out of range
        AudioItem(device_id=b.pk, seq=2, interval_ms=100, levels=SILENCE),
        AudioItem(device_id=b.pk, seq=2, interval_ms=100, levels=[-1.0]),  # same seq twice: one row
        AudioItem(device_id=gone.pk, seq=1, interval_ms=100, levels=SILENCE),
        AudioItem(device_id=999_999, seq=1, interval_ms=100, levels=SILENCE),
    ]

    results = services.audio_ingest_many(items=items)

    assert len(results) == len(items)
    assert isinstance(results[0], AudioBatch) and results[0].pk == stored.pk
    codes = [r.code if isinstance(r, ApplicationError) else "ok" for r in results]
    assert codes == ["ok", "ok", "audio_invalid", "ok", "ok", "device_revoked", "device_not_found"]
    assert isinstance(results[3], AudioBatch) and isinstance(results[4], AudioBatch)
    assert results[3].pk == results[4].pk
    assert rows(a) == [(1, 100, bytes([256 - 50])), (2, 100, bytes([256 - 127, 256 - 55, 0]))]
    assert rows(b) == [(2, 100, bytes([256 - 60] * 10))]
    assert rows(gone) == []


def test_only_the_resent_batches_are_read_back_when_phones_tick_at_overlapping_seqs() -> None:
    # Phones of one process send about the same seqs: device × seq matching read every phone's
    # other recent batches back as rows (a third of a busy server's CPU). Only resends are read.
    devices = [phone() for _ in range(4)]
    for d in devices:
        for seq in range(1, 6):
            services.audio_ingest(device_id=d.pk, seq=seq, interval_ms=100, levels=SILENCE)
    resent = AudioItem(device_id=devices[0].pk, seq=3, interval_ms=100, levels=[-1.0])
    phone_clock = timezone.now().replace(microsecond=250_000)
    items = [resent] + [
        AudioItem(device_id=d.pk, seq=seq, interval_ms=100, levels=SILENCE, started_at=phone_clock)
        for d in devices[1:]
        for seq in (6, 7)
    ]

    before = set(AudioBatch.objects.values_list("device_id", "seq"))

    with CaptureQueriesContext(connection) as ctx:
        results = services.audio_ingest_many(items=items)

    assert isinstance(results[0], AudioBatch) and bytes(results[0].levels) == bytes([256 - 60] * 10)
    assert all(isinstance(r, AudioBatch) and r.pk for r in results)
    reads = [q["sql"] for q in ctx.captured_queries if "media_pipeline_audiobatch" in q["sql"]]
    lookup = next(sql for sql in reads if sql.startswith("SELECT"))
    # Run again now, the lookup also finds this call's new rows; of the rows there before, it
    # matches the resent one only.
    matched = {(b.device_id, b.seq) for b in AudioBatch.objects.raw(lookup)}
    assert matched & before == {(devices[0].pk, 3)}
    assert AudioBatch.objects.count() == 4 * 5 + 3 * 2
    stored = AudioBatch.objects.get(device=devices[1], seq=7)
    assert isinstance(results[2], AudioBatch)
    assert (stored.pk, stored.started_at, bytes(stored.levels)) == (
        results[2].pk,
        phone_clock,
        bytes([256 - 60] * 10),
    )


def test_the_number_of_queries_does_not_grow_with_the_number_of_silent_batches() -> None:
    devices = [phone() for _ in range(5)]

    def run(first_seq: int, per_device: int) -> int:
        items = [
            AudioItem(device_id=d.pk, seq=first_seq + k, interval_ms=100, levels=SILENCE)
            for d in devices
            for k in range(per_device)
        ]
        with CaptureQueriesContext(connection) as ctx:
            results = services.audio_ingest_many(items=items)
        assert all(isinstance(r, AudioBatch) for r in results)
        return len(ctx.captured_queries)

    # 10 batches and 100 (SQLite splits a bulk insert every 999 parameters: ~140 audio rows).
    assert run(1, 2) == run(100, 20)
    assert AudioBatch.objects.count() == 110


def test_voices_open_and_silence_clears_the_incident_as_one_by_one_does() -> None:
    one_by_one, together = phone(running=True), phone(running=True)
    # Nobody in view on both phones: voices while absent is a flag too.
    for device in (one_by_one, together):
        snap = services.snapshot_ingest(device_id=device.pk, seq=1, data=images.photo_jpeg("coffee"))
        services.snapshot_analyse(snapshot_id=snap.pk)
    sequence = [CONVERSATION, CONVERSATION, SILENCE]

    for seq, levels in enumerate(sequence, start=1):
        services.audio_ingest(device_id=one_by_one.pk, seq=seq, interval_ms=100, levels=levels)
    opened_after_two = {}
    for seq, levels in enumerate(sequence, start=1):
        services.audio_ingest_many(
            items=[AudioItem(device_id=together.pk, seq=seq, interval_ms=100, levels=levels)]
        )
        if seq == 2:
            opened_after_two = incidents(together)

    assert set(opened_after_two.values()) == {Incident.Status.OPEN}
    assert set(opened_after_two) == {"multiple_voices", "voices_while_absent"}
    assert incidents(together) == incidents(one_by_one)
    assert ended(together) == ended(one_by_one) == {"multiple_voices": True, "voices_while_absent": True}
    assert rows(together) == rows(one_by_one)


def incidents(device: PhoneDevice) -> dict[str, Any]:
    return dict(
        Incident.objects.filter(
            attempt_id=device.attempt_id, kind__in=["multiple_voices", "voices_while_absent"]
        )
        .order_by("kind")
        .values_list("kind", "status")
    )


def ended(device: PhoneDevice) -> dict[str, bool]:
    """Incident kind → whether the condition has ended (silence clears the audio kinds)."""
    return {
        kind: end is not None
        for kind, end in Incident.objects.filter(attempt_id=device.attempt_id).values_list("kind", "ended_at")
        if kind in ("multiple_voices", "voices_while_absent")
    }


def test_liveness_of_many_phones_in_one_statement_skips_revoked_ones() -> None:
    live, revoked = phone(), phone()
    revoked.revoked_at = timezone.now()
    revoked.save(update_fields=["revoked_at"])

    with CaptureQueriesContext(connection) as ctx:
        touched = monitor_services.devices_seen(device_ids={live.pk, revoked.pk})

    assert touched == 1 and len(ctx.captured_queries) == 1
    live.refresh_from_db()
    revoked.refresh_from_db()
    assert live.last_seen_at is not None and revoked.last_seen_at is None


# --- the writer: one flush for what arrives within the window ---------------------------------------


@pytest.mark.django_db(transaction=True)
def test_the_writer_commits_a_window_of_batches_at_once_and_answers_each_socket() -> None:
    a, b = phone(), phone()
    calls: list[tuple[int, int]] = []

    def run_db(fn: Any) -> Any:
        async def call(**kwargs: Any) -> Any:
            calls.append((len(kwargs["audio"]), len(kwargs["seen_device_ids"])))
            return await db(fn)(**kwargs)  # the consumers' DB pool

        return call

    async def scenario() -> tuple[Any, ...]:
        writer = PhoneTrafficWriter(run_db=run_db, window_s=0.01, max_items=100)
        writer.seen(a.pk)
        return await asyncio.gather(
            writer.audio(AudioItem(device_id=a.pk, seq=1, interval_ms=100, levels=SILENCE)),
            writer.audio(AudioItem(device_id=b.pk, seq=1, interval_ms=100, levels=SILENCE)),
            writer.audio(AudioItem(device_id=b.pk, seq=2, interval_ms=1, levels=SILENCE)),
            return_exceptions=True,
        )

    results = asyncio.run(scenario())

    assert calls == [(3, 1)]  # one flush: three batches and one liveness touch
    assert [type(r).__name__ for r in results] == ["AudioBatch", "AudioBatch", "AudioRejected"]
    assert rows(a) == [(1, 100, bytes([256 - 60] * 10))] and [s for s, *_ in rows(b)] == [1]
    a.refresh_from_db()
    assert a.last_seen_at is not None


@pytest.mark.django_db(transaction=True)
def test_the_writer_flushes_at_once_when_the_batch_is_full_and_collects_the_rest_meanwhile() -> None:
    a = phone()
    calls: list[int] = []

    def run_db(fn: Any) -> Any:
        async def call(**kwargs: Any) -> Any:
            calls.append(len(kwargs["audio"]))
            return await db(fn)(**kwargs)  # the others queue up while this flush runs

        return call

    async def scenario() -> None:
        writer = PhoneTrafficWriter(run_db=run_db, window_s=10.0, max_items=2)  # the window never ends
        await asyncio.gather(
            *(
                writer.audio(AudioItem(device_id=a.pk, seq=s, interval_ms=100, levels=SILENCE))
                for s in range(1, 6)
            )
        )

    asyncio.run(asyncio.wait_for(scenario(), timeout=5))

    assert sum(calls) == 5 and max(calls) >= 2 and calls[0] == 2
    assert [s for s, *_ in rows(a)] == [1, 2, 3, 4, 5]
