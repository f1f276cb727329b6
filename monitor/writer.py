"""Group commit for phone traffic: the audio batches and liveness touches of all sockets of a server
process are written together, a few milliseconds at a time, in one transaction.

Why: a phone sends an audio batch every second. Written one by one, each batch was ~6 queries, a
transaction and (SQLite) an fsync, on a thread hop of its own: ~1 ms of CPU per batch on PostgreSQL
and a lock convoy on SQLite, so one process could not hold more than a few hundred phones. Here a
socket hands its batch to the process's writer and awaits it; the writer collects for
``WS_WRITE_BATCH_MS`` (or until ``WS_WRITE_BATCH_MAX`` items), writes everything with one
``monitor.services.phone_traffic_record`` call, and wakes each socket with its own result. The ack
still goes out only after the commit (the protocol's rule) and each item keeps its own error.

One flush runs at a time: while it runs, the next batch collects (the busier the server, the bigger
and cheaper the batches). The writer belongs to the event loop that created it.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings

logger = logging.getLogger(__name__)


@dataclass
class _Pending:
    audio: list[Any] = field(default_factory=list)  # media_pipeline.services.AudioItem
    futures: list[asyncio.Future[Any]] = field(default_factory=list)
    seen: set[int] = field(default_factory=set)


class PhoneTrafficWriter:
    def __init__(self, *, run_db: Any, window_s: float, max_items: int) -> None:
        self.run_db = run_db  # wraps a sync function for the DB executor (monitor.consumers.db)
        self.window_s, self.max_items = window_s, max_items
        self.pending = _Pending()
        self.flushing: asyncio.Task[None] | None = None
        self.timer: asyncio.TimerHandle | None = None
        self.loop = asyncio.get_running_loop()

    async def audio(self, item: Any) -> Any:
        """Store one audio batch with the next flush; returns its row, raises its error."""
        future: asyncio.Future[Any] = self.loop.create_future()
        self.pending.audio.append(item)
        self.pending.futures.append(future)
        self._schedule()
        result = await future
        if isinstance(result, BaseException):
            raise result
        return result

    def seen(self, device_id: int) -> None:
        """Record the phone's liveness with the next flush (nothing to wait for)."""
        self.pending.seen.add(device_id)
        self._schedule()

    def _schedule(self) -> None:
        if self.flushing is not None:
            return  # the running flush starts the next one when it ends
        if len(self.pending.audio) >= self.max_items:
            self._start()
        elif self.timer is None:
            self.timer = self.loop.call_later(self.window_s, self._start)

    def _start(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        if self.flushing is None and (self.pending.audio or self.pending.seen):
            batch, self.pending = self.pending, _Pending()
            self.flushing = self.loop.create_task(self._flush(batch))

    async def _flush(self, batch: _Pending) -> None:
        from monitor import services

        results: list[Any] = []
        try:
            results = await self.run_db(services.phone_traffic_record)(
                audio=batch.audio, seen_device_ids=batch.seen
            )
            if len(results) != len(batch.futures):
                raise RuntimeError(f"{len(results)} results for {len(batch.futures)} audio batches")
        except Exception as exc:  # noqa: BLE001 - every waiting socket learns it (no ack is sent)
            logger.exception("phone traffic flush of %s audio batches failed", len(batch.audio))
            results = [exc] * len(batch.futures)
        finally:
            self.flushing = None
        for future, result in zip(batch.futures, results, strict=True):
            if not future.done():
                future.set_result(result)
        if self.pending.audio and len(self.pending.audio) >= self.max_items:
            self._start()
        elif self.pending.audio or self.pending.seen:
            self._schedule()


_writers: dict[int, PhoneTrafficWriter] = {}


def writer_for_loop(run_db: Any) -> PhoneTrafficWriter:
    """The writer of the running event loop (one per server process; tests may run several loops)."""
    loop = asyncio.get_running_loop()
    writer = _writers.get(id(loop))
    if writer is None or writer.loop is not loop:
        writer = PhoneTrafficWriter(
            run_db=run_db,
            window_s=float(settings.WS_WRITE_BATCH_MS) / 1000,
            max_items=int(settings.WS_WRITE_BATCH_MAX),
        )
        _writers[id(loop)] = writer
    return writer
