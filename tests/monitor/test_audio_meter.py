"""The proctors' audio meter: one summary per window, energy mean, sustained speech across batches."""

from __future__ import annotations

from monitor.audio_meter import AudioMeter


def test_first_batch_is_summarised_at_once_then_one_summary_per_interval() -> None:
    meter = AudioMeter(now=0.0, interval_s=2.0)
    first = meter.add([-50.0, -50.0], interval_ms=100, now=0.5)
    assert first is not None and (first.max_dbfs, first.mean_dbfs, first.readings) == (-50.0, -50.0, 2)
    assert meter.add([-40.0], interval_ms=100, now=1.0) is None
    assert meter.add([-70.0], interval_ms=100, now=2.4) is None
    second = meter.add([-60.0], interval_ms=100, now=2.5)
    assert second is not None
    assert (second.max_dbfs, second.readings, second.window_s) == (-40.0, 3, 2.0)
    # Energy mean of -40, -70, -60: 10·log10((1e-4 + 1e-7 + 1e-6) / 3) = -44.72
    assert round(second.mean_dbfs, 2) == -44.72
    assert second.loud_alert is False


def test_loud_needs_sustained_speech_even_across_batches_and_alerts_rarely() -> None:
    meter = AudioMeter(
        now=0.0, interval_s=2.0, speech_dbfs=-42.0, min_speech_ms=1500, loud_alert_every_s=30.0
    )
    assert meter.add([-30.0] * 10, interval_ms=100, now=0.0).loud_alert is False  # type: ignore[union-attr]
    # 1.0 s + 0.6 s of speech with a 0.3 s pause (allowed) in between: sustained.
    assert meter.add([-60.0] * 3 + [-30.0] * 6, interval_ms=100, now=1.0) is None
    summary = meter.add([-60.0], interval_ms=100, now=2.0)
    assert summary is not None and summary.loud_alert is True
    # Still talking: loud again, but the alert waits 30 s.
    assert meter.add([-30.0] * 20, interval_ms=100, now=4.0).loud_alert is False  # type: ignore[union-attr]
    assert meter.add([-30.0] * 20, interval_ms=100, now=32.0).loud_alert is True  # type: ignore[union-attr]


def test_short_bursts_separated_by_long_gaps_are_not_loud() -> None:
    meter = AudioMeter(now=0.0, interval_s=0.0, speech_dbfs=-42.0, min_speech_ms=1500, max_gap_ms=400)
    bursts = ([-30.0] * 10 + [-60.0] * 5) * 4  # 1 s of sound, 0.5 s of quiet, repeated (a cough, a chair)
    summary = meter.add(bursts, interval_ms=100, now=1.0)
    assert summary is not None and summary.loud_alert is False and summary.max_dbfs == -30.0
