"""Signals other areas listen to (monitor.broadcast pushes analysed frames to the phone and proctors)."""

from __future__ import annotations

from django.dispatch import Signal

# Sent after commit with snapshot_id=..., attempt_id=..., device_id=... once a frame's analysis is stored.
frame_analysed = Signal()
