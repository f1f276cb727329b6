"""Signals other apps listen to (monitor.broadcast pushes these to the desktop, phone and proctors)."""

from __future__ import annotations

from django.dispatch import Signal

# Sent after commit with attempt_id=..., event_ids=[...] for every recorded event.
attempt_changed = Signal()
