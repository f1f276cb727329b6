"""Sound levels → windows of sustained speech-level sound, and two flags (pure; no Django).

What levels alone can tell: that something loud enough to be speech went on for a while (not a
cough or a chair), and that it went on while the camera saw nobody. What they cannot tell: *who*
spoke, or what. The two-voices flag is a heuristic: a conversation between the candidate (near
the phone) and someone further away alternates between two clearly different loudness levels.
A candidate reading aloud at varying volume can trip it, and two people at the same distance will
not; it opens an incident for a proctor to listen to the evidence, never a verdict by itself.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Any

import numpy as np

MIN_DBFS = -127
MAX_DBFS = 0


@dataclass(frozen=True)
class AudioThresholds:
    speech_dbfs: float = -42.0  # a reading at or above this is speech-level sound
    min_speech_ms: int = 1500  # sustained at least this long = a speech window
    max_gap_ms: int = 400  # quieter gaps up to this long do not end a window (pauses between words)
    two_voice_min_window_ms: int = 5000  # only long windows are examined for two voices
    two_voice_separation_db: float = 8.0  # two loudness clusters at least this far apart ...
    two_voice_min_share: float = 0.25  # ... each holding at least this share of the voiced readings ...
    two_voice_min_turns: int = 4  # ... taking turns at least this many times

    @classmethod
    def from_mapping(cls, values: dict[str, Any] | None) -> AudioThresholds:
        if not values:
            return cls()
        unknown = set(values) - {f.name for f in fields(cls)}
        if unknown:
            raise ValueError(f"unknown audio thresholds: {sorted(unknown)}")
        return replace(cls(), **values)


@dataclass(frozen=True)
class SpeechWindow:
    start_ms: int  # from the start of the batch
    end_ms: int
    mean_dbfs: float
    peak_dbfs: float
    two_voices_likely: bool

    @property
    def duration_ms(self) -> int:
        return self.end_ms - self.start_ms


@dataclass(frozen=True)
class AudioReport:
    windows: tuple[SpeechWindow, ...]
    voices_while_absent: bool
    multiple_voices: bool

    def as_dict(self) -> dict[str, Any]:
        return {
            "windows": [
                {
                    "start_ms": w.start_ms,
                    "end_ms": w.end_ms,
                    "mean_dbfs": round(w.mean_dbfs, 1),
                    "peak_dbfs": round(w.peak_dbfs, 1),
                    "two_voices_likely": w.two_voices_likely,
                }
                for w in self.windows
            ],
            "voices_while_absent": self.voices_while_absent,
            "multiple_voices": self.multiple_voices,
        }


def clamp_levels(levels: list[float]) -> list[int]:
    """dBFS rounded and clamped to [-127, 0] (fits a signed byte; NaN counts as silence)."""
    out = []
    for level in levels:
        value = float(level)
        if value != value:  # NaN
            value = MIN_DBFS
        out.append(int(round(min(MAX_DBFS, max(MIN_DBFS, value)))))
    return out


def encode_levels(levels: list[int]) -> bytes:
    return np.asarray(levels, dtype=np.int8).tobytes()


def decode_levels(data: bytes) -> list[int]:
    return np.frombuffer(bytes(data), dtype=np.int8).astype(int).tolist()


def speech_windows(
    levels: list[int] | list[float], *, interval_ms: int, t: AudioThresholds
) -> list[SpeechWindow]:
    arr = np.asarray(levels, dtype=np.float64)
    loud = arr >= t.speech_dbfs
    max_gap = max(0, t.max_gap_ms // interval_ms)
    windows: list[SpeechWindow] = []
    i, n = 0, len(arr)
    while i < n:
        if not loud[i]:
            i += 1
            continue
        start = end = i
        j = i + 1
        gap = 0
        while j < n:
            if loud[j]:
                end, gap = j, 0
            else:
                gap += 1
                if gap > max_gap:
                    break
            j += 1
        duration = (end - start + 1) * interval_ms
        if duration >= t.min_speech_ms:
            segment = arr[start : end + 1]
            windows.append(
                SpeechWindow(
                    start_ms=start * interval_ms,
                    end_ms=(end + 1) * interval_ms,
                    mean_dbfs=float(segment[segment >= t.speech_dbfs].mean()),
                    peak_dbfs=float(segment.max()),
                    two_voices_likely=duration >= t.two_voice_min_window_ms and _two_levels(segment, t),
                )
            )
        i = end + 1
    return windows


def _two_levels(segment: np.ndarray, t: AudioThresholds) -> bool:
    voiced = segment[segment >= t.speech_dbfs]
    if len(voiced) < 8:
        return False
    # Otsu's split of the voiced readings into a loud and a quiet cluster.
    values = np.sort(voiced)
    best, split = -1.0, values[0]
    for k in range(1, len(values)):
        a, b = values[:k], values[k:]
        between = len(a) * len(b) * (a.mean() - b.mean()) ** 2
        if between > best:
            best, split = between, (values[k - 1] + values[k]) / 2
    quiet, loud = voiced[voiced < split], voiced[voiced >= split]
    if len(quiet) == 0 or len(loud) == 0:
        return False
    if loud.mean() - quiet.mean() < t.two_voice_separation_db:
        return False
    share = min(len(quiet), len(loud)) / len(voiced)
    if share < t.two_voice_min_share:
        return False
    labels = (voiced >= split).astype(np.int8)
    turns = int(np.count_nonzero(np.diff(labels)))
    return turns >= t.two_voice_min_turns


def analyse_levels(
    levels: list[int] | list[float], *, interval_ms: int, candidate_present: bool | None, t: AudioThresholds
) -> AudioReport:
    """``candidate_present``: from the latest analysed frame (None when unknown: no flag for absence)."""
    windows = tuple(speech_windows(levels, interval_ms=interval_ms, t=t))
    return AudioReport(
        windows=windows,
        voices_while_absent=bool(windows) and candidate_present is False,
        multiple_voices=any(w.two_voices_likely for w in windows),
    )
