"""Validation of an action's ``data``, ``evidence`` and ``client_time`` (every caller goes through it:
REST views, WebSocket consumers, deadlines). Unknown fields are refused, never ignored."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.utils import timezone
from django.utils.dateparse import parse_datetime

from exams.errors import InvalidActionData
from exams.state_machine import Action

_REASON = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
MAX_EVIDENCE_ITEMS = 50


@dataclass(frozen=True)
class Field:
    kind: type
    required: bool = False
    max_length: int = 0  # for strings
    pattern: re.Pattern[str] | None = None


_NOTE = Field(str, max_length=500)
_REASON_CODE = Field(str, max_length=64, pattern=_REASON)
_ID = Field(int)

ACTION_FIELDS: dict[Action, dict[str, Field]] = {
    Action.START: {"consent": Field(bool)},
    Action.FOCUS_LOST: {"reason": _REASON_CODE},
    Action.BREAK_REQUEST: {"reason": Field(str, max_length=200)},
    Action.BREAK_APPROVE: {"note": _NOTE},
    Action.BREAK_DENY: {"note": _NOTE},
    Action.WARN: {"category": Field(str, required=True, max_length=32), "message": _NOTE, "incident_id": _ID},
    Action.WARNING_ACK: {"warning_id": _ID},
    Action.WARNING_CORRECT: {"category": Field(str, required=True, max_length=32)},
    Action.FORCE_SUBMIT: {"reason": _REASON_CODE, "note": _NOTE},
    Action.DISQUALIFY: {"reason": _REASON_CODE, "note": _NOTE},
    Action.INCIDENT_CONFIRM: {"incident_id": Field(int, required=True), "note": _NOTE},
    Action.INCIDENT_DISMISS: {"incident_id": Field(int, required=True), "note": _NOTE},
}


def clean_data(action: Action, data: Any) -> dict[str, Any]:
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise InvalidActionData(extra={"field": "data", "problem": "not_an_object"})
    spec = ACTION_FIELDS.get(action, {})
    unknown = sorted(set(data) - set(spec))
    if unknown:
        raise InvalidActionData(extra={"field": "data", "problem": "unknown_fields", "fields": unknown})
    cleaned: dict[str, Any] = {}
    for name, field in spec.items():
        if name not in data or data[name] is None:
            if field.required:
                raise InvalidActionData(extra={"field": name, "problem": "required"})
            continue
        value = data[name]
        # bool is an int subclass: an id of True is not an id.
        if not isinstance(value, field.kind) or (field.kind is int and isinstance(value, bool)):
            raise InvalidActionData(extra={"field": name, "problem": f"expected_{field.kind.__name__}"})
        if isinstance(value, str):
            value = value.strip()
            if field.max_length and len(value) > field.max_length:
                raise InvalidActionData(extra={"field": name, "problem": "too_long", "max": field.max_length})
            if field.pattern is not None and not field.pattern.match(value):
                raise InvalidActionData(extra={"field": name, "problem": "invalid_format"})
        cleaned[name] = value
    return cleaned


def clean_evidence(evidence: Any) -> dict[str, list[Any]]:
    """``{"snapshots": [ids], "messages": [ids]}``: references, never the media itself."""
    if evidence is None:
        return {}
    if not isinstance(evidence, dict):
        raise InvalidActionData(extra={"field": "evidence", "problem": "not_an_object"})
    unknown = sorted(set(evidence) - {"snapshots", "messages"})
    if unknown:
        raise InvalidActionData(extra={"field": "evidence", "problem": "unknown_fields", "fields": unknown})
    cleaned: dict[str, list[Any]] = {}
    for key, items in evidence.items():
        ok_items = isinstance(items, list) and len(items) <= MAX_EVIDENCE_ITEMS
        ok_items = ok_items and all(
            (isinstance(i, int) and not isinstance(i, bool)) or (isinstance(i, str) and 0 < len(i) <= 64)
            for i in items
        )
        if not ok_items:
            raise InvalidActionData(extra={"field": f"evidence.{key}", "problem": "expected_list_of_ids"})
        if items:
            cleaned[key] = list(items)
    return cleaned


def clean_client_time(raw: Any) -> datetime | None:
    """Recorded in the event as the client said it; never used by a rule."""
    if raw is None or raw == "":
        return None
    try:
        value = raw if isinstance(raw, datetime) else parse_datetime(raw) if isinstance(raw, str) else None
    except ValueError:  # well-formed but impossible, e.g. month 13
        value = None
    if value is None:
        raise InvalidActionData(extra={"field": "client_time", "problem": "expected_iso_datetime"})
    if timezone.is_naive(value):
        raise InvalidActionData(extra={"field": "client_time", "problem": "timezone_required"})
    return value
