"""The append-only, hash-chained event log of an attempt.

Each event stores ``hash = sha256(canonical JSON of (prev_hash, attempt_id, seq, kind, actor, cause,
data, evidence, client_time, created_at))`` and the previous event's hash; the attempt row keeps the
head (event count + last hash). Editing an event breaks its hash, removing or reordering one breaks the
links or the sequence, removing the last one disagrees with the head. ``verify_chain`` reports which.

An attacker with database write access could recompute the whole chain; publishing heads elsewhere
(an external anchor) closes that, and is left for later (see docs/exams.md).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from django.db import transaction

from exams import clock
from exams.models import Attempt, AttemptEvent

GENESIS = "0" * 64


def _json_normalise(value: Any) -> Any:
    """What the JSON column will give back: tuples become lists, keys strings (hash what is stored)."""
    return json.loads(json.dumps(value or {}, default=str))


def _ts(value: datetime | None) -> str | None:
    return value.astimezone(UTC).isoformat(timespec="microseconds") if value is not None else None


def event_hash(
    *,
    prev_hash: str,
    attempt_id: int,
    seq: int,
    kind: str,
    actor: str,
    cause: str,
    data: Any,
    evidence: Any,
    client_time: datetime | None,
    created_at: datetime,
) -> str:
    payload = {
        "prev_hash": prev_hash,
        "attempt_id": attempt_id,
        "seq": seq,
        "kind": kind,
        "actor": actor,
        "cause": cause,
        "data": data,
        "evidence": evidence,
        "client_time": _ts(client_time),
        "created_at": _ts(created_at),
    }
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _stored_hash(event: AttemptEvent) -> str:
    return event_hash(
        prev_hash=event.prev_hash,
        attempt_id=event.attempt_id,
        seq=event.seq,
        kind=event.kind,
        actor=event.actor,
        cause=event.cause,
        data=event.data,
        evidence=event.evidence,
        client_time=event.client_time,
        created_at=event.created_at,
    )


def event_append(
    *,
    attempt: Attempt | int,
    kind: str,
    actor: str,
    cause: str = "",
    data: dict[str, Any] | None = None,
    evidence: dict[str, Any] | None = None,
    client_time: datetime | None = None,
) -> AttemptEvent:
    """Append one event. Locks the attempt row (a no-op re-lock inside attempt_apply_action) so two
    writers never take the same ``seq``. Callers announce it with exams.services.attempt_announce."""
    attempt_id = attempt if isinstance(attempt, int) else attempt.pk
    with transaction.atomic():
        head = (
            Attempt.objects.select_for_update()
            .only("id", "event_count", "last_event_hash")
            .get(pk=attempt_id)
        )
        seq = head.event_count + 1
        prev = head.last_event_hash or GENESIS
        created_at = clock.now()
        data_n = _json_normalise(data)
        evidence_n = _json_normalise(evidence)
        digest = event_hash(
            prev_hash=prev,
            attempt_id=attempt_id,
            seq=seq,
            kind=kind,
            actor=actor,
            cause=cause,
            data=data_n,
            evidence=evidence_n,
            client_time=client_time,
            created_at=created_at,
        )
        event = AttemptEvent.objects.create(
            attempt_id=attempt_id,
            seq=seq,
            kind=kind,
            actor=actor,
            cause=cause,
            data=data_n,
            evidence=evidence_n,
            client_time=client_time,
            created_at=created_at,
            prev_hash=prev,
            hash=digest,
        )
        Attempt.objects.filter(pk=attempt_id).update(event_count=seq, last_event_hash=digest)
        if isinstance(attempt, Attempt):
            attempt.event_count, attempt.last_event_hash = seq, digest
    return event


@dataclass(frozen=True)
class ChainProblem:
    attempt_id: int
    seq: int | None
    problem: str  # hash_mismatch / broken_link / sequence_gap / head_mismatch

    def __str__(self) -> str:
        where = f"event seq {self.seq}" if self.seq is not None else "chain head"
        return f"attempt {self.attempt_id}: {where}: {self.problem}"


def verify_chain(attempt: Attempt) -> list[ChainProblem]:
    """Every problem in one attempt's chain (empty list = intact)."""
    problems: list[ChainProblem] = []
    prev = GENESIS
    expected_seq = 1
    events: Iterable[AttemptEvent] = AttemptEvent.objects.filter(attempt_id=attempt.pk).order_by("seq", "pk")
    count = 0
    for event in events:
        count += 1
        if event.seq != expected_seq:
            problems.append(ChainProblem(attempt.pk, event.seq, "sequence_gap"))
        if event.prev_hash != prev:
            problems.append(ChainProblem(attempt.pk, event.seq, "broken_link"))
        if _stored_hash(event) != event.hash:
            problems.append(ChainProblem(attempt.pk, event.seq, "hash_mismatch"))
        prev = event.hash
        expected_seq = event.seq + 1
    if count != attempt.event_count or (attempt.event_count and prev != attempt.last_event_hash):
        problems.append(ChainProblem(attempt.pk, None, "head_mismatch"))
    return problems
