"""The embedded profile's deadline scheduler: a daemon thread in the serving process that runs the same
sweep as the production beat task every second. A fresh process starts a fresh scheduler, which fires
everything that fell due while no process was running (the deadlines are rows, not timers in memory)."""

from __future__ import annotations

import logging
import threading
import time

from django.conf import settings
from django.db import close_old_connections

from exams.deadlines import deadline_fire_due

logger = logging.getLogger(__name__)


class DeadlineScheduler:
    def __init__(self, interval: float = 1.0, token_sweep_every: float | None = None) -> None:
        self.interval = interval
        # The embedded profile has no Celery beat: the token expiry sweep (accounts.expire_tokens in
        # production, every minute) runs here too, so a WebSocket whose login expired is closed (4005).
        self.token_sweep_every = (
            token_sweep_every
            if token_sweep_every is not None
            else float(getattr(settings, "ACCOUNTS_TOKEN_SWEEP_SECONDS", 60.0))
        )
        self._next_token_sweep = 0.0  # monotonic; the first round sweeps at once
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.sweeps = 0

    def start(self) -> None:
        if self._thread is not None:
            return
        self._thread = threading.Thread(target=self._run, name="exams-deadline-scheduler", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.run_once()
            self._stop.wait(self.interval)

    def run_once(self) -> int:
        close_old_connections()
        try:
            self._sweep_tokens()
            return deadline_fire_due().total
        except Exception:  # noqa: BLE001 - a failed sweep must not kill the thread; the next one retries
            logger.exception("deadline sweep failed")
            return 0
        finally:
            self.sweeps += 1
            close_old_connections()

    def _sweep_tokens(self) -> None:
        now = time.monotonic()
        if now < self._next_token_sweep:
            return
        self._next_token_sweep = now + self.token_sweep_every
        from accounts.tokens import tokens_expire_sweep

        try:
            tokens_expire_sweep()
        except Exception:  # noqa: BLE001 - the deadlines below must still fire
            logger.exception("token expiry sweep failed")


_scheduler: DeadlineScheduler | None = None
_lock = threading.Lock()


def start_in_process_scheduler() -> DeadlineScheduler:
    global _scheduler
    with _lock:
        if _scheduler is None:
            _scheduler = DeadlineScheduler()
            _scheduler.start()
            logger.info("in-process deadline scheduler started")
        return _scheduler
