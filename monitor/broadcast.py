"""Pushes to open sockets, always after commit, through the channel layer (in-memory or Redis).

Signal receivers run in sync threads, so they use ``async_to_sync(layer.group_send)``. They run in
the thread that sent the signal (a request, a Celery task, a consumer's database thread, a test
inside its transaction), so they never close database connections: that thread's owner does
(Django after a request, Celery after a task, ``database_sync_to_async`` around its call). The channel
layer is best effort (a process not subscribed when a message is published never gets it):
everything here is also in the database, and a client that reconnects gets the full state again in
its hello/subscribe answer.
A push that fails is logged, never raised into the code that committed the change.

A Celery worker process pushes through one long-lived event loop of its own (``use_own_loop``):
``async_to_sync`` with no server loop to borrow starts a thread and an event loop per call, and
channels_redis opens its Redis connections per event loop, so every verdict pushed cost a new Redis
connection (and a socket left in TIME_WAIT: ~1,000 a second at the scale plan's frame rate).
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

from monitor import protocol as p

if TYPE_CHECKING:
    from monitor.services import ClaimResult

logger = logging.getLogger(__name__)


PUSH_TIMEOUT_S = 10.0  # a push waits at most this long for the channel layer (Redis down: logged, dropped)


class _OwnLoop:
    """An event loop running in a daemon thread of this process, for pushes from synchronous code."""

    def __init__(self) -> None:
        self.pid = os.getpid()
        self.loop = asyncio.new_event_loop()
        threading.Thread(target=self.loop.run_forever, name="channel-layer-push", daemon=True).start()

    def run(self, coroutine: Coroutine[Any, Any, None]) -> None:
        future = asyncio.run_coroutine_threadsafe(coroutine, self.loop)
        try:
            future.result(PUSH_TIMEOUT_S)
        except TimeoutError:
            future.cancel()
            raise


_own_loop_wanted = False
_own_loop: _OwnLoop | None = None
_own_loop_lock = threading.Lock()


def use_own_loop() -> None:
    """Push through one event loop per process from now on (config.celery: every worker process)."""
    global _own_loop_wanted
    _own_loop_wanted = True


def _push_loop() -> _OwnLoop | None:
    global _own_loop
    if not _own_loop_wanted:
        return None
    with _own_loop_lock:
        if _own_loop is None or _own_loop.pid != os.getpid():  # a forked pool process starts its own
            _own_loop = _OwnLoop()
        return _own_loop


def send(group: str, message: dict[str, Any]) -> None:
    layer = get_channel_layer()
    if layer is None:
        return
    try:
        own = _push_loop()
        if own is not None:
            own.run(layer.group_send(group, message))
        else:
            async_to_sync(layer.group_send)(group, message)
    except Exception:  # noqa: BLE001 - a lost live push must not undo or fail a committed change
        logger.exception("group_send to %s failed", group)


def push(group: str, payload: dict[str, Any]) -> None:
    send(group, p.envelope_send(payload))


def close(group: str, code: int, *, except_channel: str = "") -> None:
    send(group, p.envelope_close(code, except_channel=except_channel))


# --- monitor's own events ------------------------------------------------------------------------


def push_paired(result: ClaimResult) -> None:
    from django.utils import timezone

    for old in result.replaced_device_ids:
        close(p.group_device(old), p.CloseCode.DEVICE_REPLACED)
    device = result.device
    push(
        p.group_attempt_desktop(result.attempt_id),
        p.pairing(state="paired", device_id=device.pk, kind=device.kind, since=device.paired_at),
    )
    kind: p.AlertKind = "phone_replaced" if result.replaced_device_ids else "phone_paired"
    push(
        p.group_session_proctors(result.session_id),
        p.alert(
            attempt_id=result.attempt_id,
            session_id=result.session_id,
            kind=kind,
            at=timezone.now(),
            data={"device_id": device.pk, "replaced": result.replaced_device_ids},
        ),
    )


def push_phone_state(
    *,
    device_id: int,
    attempt_id: int,
    session_id: int,
    at: Any,
    state: p.PairingState,
    alert_kind: p.AlertKind | None,
    data: dict[str, Any] | None = None,
) -> None:
    """The phone went online / lost: the desktop's indicator follows, proctors get an alert."""
    desktop = p.group_attempt_desktop(attempt_id)
    push(desktop, p.pairing(state=state, device_id=device_id, since=at))
    push(desktop, p.monitoring(on=state == "online"))
    if alert_kind is not None:
        push(
            p.group_session_proctors(session_id),
            p.alert(
                attempt_id=attempt_id,
                session_id=session_id,
                kind=alert_kind,
                at=at,
                data={"device_id": device_id, **(data or {})},
            ),
        )


def push_desktop_state(
    *,
    attempt_id: int,
    session_id: int,
    at: Any,
    alert_kind: p.AlertKind,
    data: dict[str, Any] | None = None,
) -> None:
    """The desktop exam client went silent / came back: proctors get an alert (the exam rules' event
    and status reach everyone through attempt_changed)."""
    push(
        p.group_session_proctors(session_id),
        p.alert(attempt_id=attempt_id, session_id=session_id, kind=alert_kind, at=at, data=data),
    )


# --- exams: status changes, warnings, decisions -----------------------------------------------------

_WARNING_TEXT = p.text("监考员提醒：请按考场规则调整", "Proctor warning: please follow the exam rules")
_ENDED_BY_FORCE = frozenset({"force_submitted", "disqualified"})


def _event_text(data: dict[str, Any], zh: str, en: str) -> p.Text:
    message = str(data.get("message") or data.get("note") or "")
    return p.text(message or zh, message or en)


def _warning_text(data: dict[str, Any]) -> p.Text:
    """The words of a reminder. The system's automatic ones (an incident opened by the frame analysis)
    carry the incident kind, e.g. ``camera_covered``: the candidate reads the standard phrase for it,
    never the code."""
    from monitor.console.phrases import BY_CODE

    message = data.get("message")
    phrase = BY_CODE.get(message) if isinstance(message, str) else None
    if phrase is not None:
        return p.text(phrase.zh, phrase.en)
    return _event_text(data, _WARNING_TEXT["zh"], _WARNING_TEXT["en"])


def _warning_limit(state: dict[str, Any], category: str) -> tuple[int | None, int | None]:
    for item in state.get("warnings") or []:
        if isinstance(item, dict) and item.get("category") == category:
            return item.get("issued"), item.get("limit")
    return None, None


def _event_pushes(event: Any, state: dict[str, Any]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(desktop payloads, phone payloads) for one recorded event (exams.services event kinds)."""
    kind, data = event.kind, event.data or {}
    desktop: list[dict[str, Any]] = []
    phone: list[dict[str, Any]] = []
    command_id = f"e{event.pk}"
    if kind == "warn":
        category = str(data.get("category", ""))
        count, limit = _warning_limit(state, category)
        message = _warning_text(data)
        desktop.append(
            p.warning(
                event_id=event.pk,
                warning_id=data.get("warning_id"),
                category=category,
                message=message,
                count=count if count is not None else data.get("issued"),
                limit=limit,
            )
        )
        phone.append(
            p.command(command_id=command_id, name="warning", message=message, data={"category": category})
        )
    elif kind in ("break_approve", "break_deny"):
        approved = kind == "break_approve"
        message = (
            _event_text(data, "暂离已批准，请在规定时间内返回", "Break approved: return in time")
            if approved
            else _event_text(data, "暂离申请未获批准", "Break request denied")
        )
        desktop.append(
            p.break_decision(event_id=event.pk, approved=approved, message=message, due_at=data.get("due_at"))
        )
        name: p.CommandName = "break_approved" if approved else "break_denied"
        phone.append(p.command(command_id=command_id, name=name, message=message))
    elif kind == "proctor_message":
        message = _event_text(data, "", "")
        desktop.append(p.proctor_message(message=message, sent_at=event.created_at))
        phone.append(p.command(command_id=command_id, name="message", message=message))
    to = str(data.get("to") or "")
    if to in _ENDED_BY_FORCE:
        reason = event.cause or kind
        message = (
            p.text("您已被取消考试资格", "You have been disqualified")
            if to == "disqualified"
            else p.text("您的试卷已被强制提交", "Your paper was submitted by force")
        )
        desktop.append(p.forced_submit(event_id=event.pk, status=to, reason=reason, message=message))
        phone.append(
            p.command(command_id=command_id, name="exam_ended", message=message, data={"reason": reason})
        )
    elif to == "submitted":
        message = p.text("考试已结束，试卷已提交", "The exam is over; your paper was submitted")
        phone.append(p.command(command_id=command_id, name="exam_ended", message=message))
        if event.actor == "system":
            # Submitted for the candidate (the end time): the desktop closes the paper like a forced one.
            reason = event.cause or kind
            desktop.append(p.forced_submit(event_id=event.pk, status=to, reason=reason, message=message))
    elif to == "absent":
        message = p.text("您未在规定时间内登录，视为缺考", "You did not log in in time: absent")
        phone.append(p.command(command_id=command_id, name="exam_ended", message=message))
    return desktop, phone


def _ended(event: Any) -> bool:
    from exams.state_machine import TERMINAL

    return str((event.data or {}).get("to") or "") in TERMINAL


def attempt_push(*, attempt_id: int, event_ids: list[int]) -> None:
    """Push an attempt's new events: status to desktop and phone, decisions, deltas to proctors."""
    from exams.models import Attempt, AttemptEvent
    from monitor.selectors import attempt_live_state

    attempt = Attempt.objects.filter(pk=attempt_id).only("id", "session_id").first()
    if attempt is None:
        return
    events = list(AttemptEvent.objects.filter(pk__in=event_ids, attempt_id=attempt_id).order_by("seq"))
    state = attempt_live_state(attempt_id=attempt_id)
    desktop_group, phone_group = p.group_attempt_desktop(attempt_id), p.group_attempt_phone(attempt_id)
    for event in events:
        to_desktop, to_phone = _event_pushes(event, state)
        for payload in to_desktop:
            push(desktop_group, payload)
        for payload in to_phone:
            push(phone_group, payload)
    push(desktop_group, p.status(state=state))
    push(phone_group, p.status(state=state))
    if any(_ended(e) for e in events):
        # After the final messages (a group delivers in order to each socket): nothing more to monitor.
        close(desktop_group, p.CloseCode.ATTEMPT_ENDED)
        close(phone_group, p.CloseCode.ATTEMPT_ENDED)
    from media_pipeline.flags import AUDIO_SOURCE_KINDS  # incidents opened by the audio flags

    proctors = p.group_session_proctors(attempt.session_id)
    for event in events:
        data = event.data or {}
        if event.kind == "incident_opened" and data.get("kind") in AUDIO_SOURCE_KINDS:
            push(
                proctors,
                p.alert(
                    attempt_id=attempt_id,
                    session_id=attempt.session_id,
                    kind="voices",
                    at=event.created_at,
                    data={k: data.get(k) for k in ("incident_id", "kind", "severity")},
                ),
            )
    push(
        proctors,
        p.attempt_delta(
            attempt_id=attempt_id,
            session_id=attempt.session_id,
            state=state,
            events=[
                {
                    "id": e.pk,
                    "seq": e.seq,
                    "kind": e.kind,
                    "actor": e.actor,
                    "data": e.data,
                    "created_at": e.created_at.isoformat(),
                }
                for e in events
            ],
        ),
    )


def _on_attempt_changed(sender: Any, attempt_id: int, event_ids: list[int], **kwargs: Any) -> None:
    try:
        attempt_push(attempt_id=attempt_id, event_ids=list(event_ids))
    except Exception:  # noqa: BLE001 - the change is committed; a failed push is only logged
        logger.exception("push of attempt %s failed", attempt_id)


# --- media_pipeline: analysed frames ----------------------------------------------------------------


def thumbnail_url(snapshot_id: int) -> str:
    from django.urls import NoReverseMatch, reverse

    for name in ("api:snapshot-thumbnail", "api:snapshot-image"):
        try:
            return reverse(name, kwargs={"snapshot_id": snapshot_id})
        except NoReverseMatch:
            continue
    return ""


def snapshot_push(*, snapshot_id: int) -> None:
    from media_pipeline.models import FrameAnalysis, Snapshot

    snap = Snapshot.objects.select_related("attempt").filter(pk=snapshot_id).first()
    if snap is None:
        return
    analysis = FrameAnalysis.objects.filter(snapshot_id=snapshot_id).first()
    report: dict[str, Any] = (
        analysis.report if analysis is not None and isinstance(analysis.report, dict) else {}
    )
    guidance = [g for g in report.get("guidance", []) if isinstance(g, dict)]
    passed = analysis.passed if analysis is not None else True
    person_count = analysis.person_count if analysis is not None else None
    push(
        p.group_device(snap.device_id),
        p.framing(snapshot_id=snap.pk, seq=snap.seq, ok=passed, guidance=guidance, person_count=person_count),
    )
    # The proctors had the picture when it was stored (PhoneConsumer.snapshot_show); the analysis
    # adds a flag when the frame fails.
    session_id = snap.attempt.session_id
    proctors = p.group_session_proctors(session_id)
    if not passed:
        reasons = [str(r) for r in report.get("reasons", report.get("failed", []))][:10]
        push(
            proctors,
            p.flag(
                attempt_id=snap.attempt_id,
                session_id=session_id,
                snapshot_id=snap.pk,
                person_count=person_count,
                reasons=reasons,
            ),
        )


def _on_frame_analysed(sender: Any, snapshot_id: int, **kwargs: Any) -> None:
    try:
        snapshot_push(snapshot_id=snapshot_id)
    except Exception:  # noqa: BLE001
        logger.exception("push of snapshot %s failed", snapshot_id)


# --- accounts: revoked logins close their sockets ---------------------------------------------------


def _on_tokens_revoked(sender: Any, token_ids: list[int], **kwargs: Any) -> None:
    for token_id in token_ids:
        close(p.group_token(token_id), p.CloseCode.TOKEN_REVOKED)


def connect_signals() -> None:
    """Called from MonitorConfig.ready(). A signal module that is not there (an area still being
    built in a checkout) is skipped rather than breaking start-up."""
    import importlib

    for module, name, handler in (
        ("accounts.signals", "tokens_revoked", _on_tokens_revoked),
        ("exams.signals", "attempt_changed", _on_attempt_changed),
        ("media_pipeline.signals", "frame_analysed", _on_frame_analysed),
    ):
        try:
            signal = getattr(importlib.import_module(module), name)
        except (ImportError, AttributeError):
            logger.warning("monitor: %s.%s not available; its pushes are off", module, name)
            continue
        signal.connect(handler, dispatch_uid=f"monitor.{name}")
