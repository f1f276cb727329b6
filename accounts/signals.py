"""Signals other apps listen to (monitor closes WebSockets of revoked tokens)."""

from __future__ import annotations

from django.dispatch import Signal

# Sent after commit with token_ids=[...] when tokens are revoked (logout, rotation, admin).
tokens_revoked = Signal()
