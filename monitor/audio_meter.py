"""Per-socket aggregation of the phone's sound levels into the proctors' audio meter (pure; no Django).

A phone sends a batch of dBFS readings about every second. Fanning every batch out to every proctor
of the session is what overloads a Redis channel layer, and a meter only needs a level: so each phone
socket folds its batches into a window and emits one summary at most every ``interval_s`` (the first
batch at once). A window is emitted when a batch arrives after the interval, so a phone that goes
quiet leaves its last partial window unsent; its next batch carries it.

"Loud" is sustained speech-level sound (``speech_dbfs`` held for ``min_speech_ms``, pauses up to
``max_gap_ms`` allowed), counted across batch boundaries: the thresholds are media_pipeline's audio
thresholds, so the meter and the incident analysis agree on what speech is.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class AudioSummary:
    max_dbfs: float
    mean_dbfs: float  # energy mean: averaged as power, back to dB
    window_s: float
    readings: int
    loud_alert: bool  # sustained speech-level sound in this window, and no loud alert for a while


class AudioMeter:
    def __init__(
        self,
        *,
        now: float,
        interval_s: float = 2.0,
        speech_dbfs: float = -42.0,
        min_speech_ms: int = 1500,
        max_gap_ms: int = 400,
        loud_alert_every_s: float = 30.0,
    ) -> None:
        self.interval_s = interval_s
        self.speech_dbfs = speech_dbfs
        self.min_speech_ms = min_speech_ms
        self.max_gap_ms = max_gap_ms
        self.loud_alert_every_s = loud_alert_every_s
        self.last_emit: float | None = None
        self.last_loud_alert: float | None = None
        self.window_started = now
        self._reset_window()
        self.run_ms = 0  # the current speech-level run, carried across batches and windows
        self.gap_ms = 0

    def _reset_window(self) -> None:
        self.max_dbfs = -math.inf
        self.power_sum = 0.0
        self.count = 0
        self.loud = False

    def add(self, levels: list[float], *, interval_ms: int, now: float) -> AudioSummary | None:
        """Fold one batch in; a summary when one is due (else None)."""
        for level in levels:
            value = max(-160.0, min(0.0, float(level)))
            self.max_dbfs = max(self.max_dbfs, value)
            self.power_sum += 10.0 ** (value / 10.0)
            self.count += 1
            if value >= self.speech_dbfs:
                self.run_ms += interval_ms
                self.gap_ms = 0
            else:
                self.gap_ms += interval_ms
                if self.gap_ms > self.max_gap_ms:
                    self.run_ms = 0
            if self.run_ms >= self.min_speech_ms:
                self.loud = True
        if self.count == 0 or (self.last_emit is not None and now - self.last_emit < self.interval_s):
            return None
        alert = self.loud and (
            self.last_loud_alert is None or now - self.last_loud_alert >= self.loud_alert_every_s
        )
        if alert:
            self.last_loud_alert = now
        summary = AudioSummary(
            max_dbfs=self.max_dbfs,
            mean_dbfs=10.0 * math.log10(self.power_sum / self.count) if self.power_sum > 0 else -160.0,
            window_s=now - self.window_started,
            readings=self.count,
            loud_alert=alert,
        )
        self.last_emit = self.window_started = now
        self._reset_window()
        return summary
