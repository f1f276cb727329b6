"""Pages and small JSON endpoints of the proctor console. Thin: authorise, call a selector or
service, render. Session authentication only (a candidate's bearer token is not a login here).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from functools import wraps
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.views import redirect_to_login
from django.http import (
    FileResponse,
    HttpRequest,
    HttpResponse,
    HttpResponseBase,
    HttpResponseRedirect,
    JsonResponse,
)
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from accounts import roles
from config.errors import ApplicationError, error_body
from exams.state_machine import STATUS_LABELS, TERMINAL, Status
from monitor.console import errors, labels, selectors, services
from monitor.console.models import ReviewVerdict
from monitor.console.phrases import PHRASES

logger = logging.getLogger(__name__)

# Snapshot images and thumbnails come from media_pipeline's endpoints (api:snapshot-image /
# api:snapshot-thumbnail): one authorisation (accounts.roles.can_see_attempt), one audit trail
# (thumbnails once per proctor and attempt per window), and presigned S3 redirects in production.


def _wants_json(request: HttpRequest) -> bool:
    return request.content_type == "application/json" or "application/json" in request.headers.get(
        "Accept", ""
    )


def proctor_view(view: Callable[..., HttpResponseBase]) -> Callable[..., HttpResponseBase]:
    """Signed in with a proctoring role; ApplicationErrors become an error page or a JSON error body."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if not request.user.is_authenticated:
            if _wants_json(request) or request.method != "GET":
                return JsonResponse(error_body("not_authenticated", _("请先登录")), status=401)
            return redirect_to_login(request.get_full_path(), settings.LOGIN_URL)
        try:
            if not roles.is_proctor(request.user):
                raise errors.ConsoleForbidden()
            return view(request, *args, **kwargs)
        except ApplicationError as exc:
            if _wants_json(request) or request.method != "GET":
                return JsonResponse(error_body(exc.code, exc.message, exc.extra), status=exc.http_status)
            return render(request, "console/error.html", {"error": exc}, status=exc.http_status)

    return wrapper


def _int(value: Any, default: int = 0) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


def _base_context(request: HttpRequest) -> dict[str, Any]:
    return {"is_chief": roles.is_chief(request.user), "js_labels": labels.js_labels()}


@require_GET
@proctor_view
def sessions(request: HttpRequest) -> HttpResponse:
    rows = list(selectors.sessions_for_user(user=request.user))
    return render(request, "console/sessions.html", {**_base_context(request), "sessions": rows})


@require_GET
@proctor_view
def grid(request: HttpRequest, session_id: int) -> HttpResponse:
    session = selectors.session_for_user(user=request.user, session_id=session_id)
    status = request.GET.get("status", "")
    if status not in ("", "live", *[str(s) for s in Status]):
        status = ""
    filters = selectors.GridFilters(
        status=status, incidents=request.GET.get("incidents") == "1", mine=request.GET.get("mine") == "1"
    )
    page, tiles = selectors.grid_page(
        user=request.user, session=session, filters=filters, page=_int(request.GET.get("page"), 1)
    )
    alerts = selectors.alerts_for(user=request.user, session=session)
    statuses = [("live", _("未结束"))] + [(str(s), str(label)) for s, label in STATUS_LABELS.items()]
    services.audit_record(
        actor=request.user, action="view_grid", session_id=session.pk, target=f"session:{session.pk}"
    )
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "console/grid.html",
        {
            **_base_context(request),
            "session": session,
            "page": page,
            "tiles": tiles,
            "tiles_json": [t.as_json() for t in tiles],
            "alerts": alerts,
            "filters": filters,
            "statuses": statuses,
            "query": query.urlencode(),
            "assignments": selectors.assignment_counts(session=session)
            if roles.is_chief(request.user)
            else [],
        },
    )


@require_GET
@proctor_view
def attempt_detail(request: HttpRequest, attempt_id: int) -> HttpResponse:
    attempt = selectors.attempt_for_user(user=request.user, attempt_id=attempt_id)
    services.audit_record(
        actor=request.user,
        action="view_attempt",
        session_id=attempt.session_id,
        attempt_id=attempt.pk,
        target=f"attempt:{attempt.pk}",
    )
    snapshots = selectors.attempt_snapshots(attempt=attempt)
    tile = selectors.tiles_for(attempts=[attempt])[0]
    if snapshots:
        tile.latest_snapshot_id = snapshots[-1].id
    proctors = list(attempt.session.proctors.order_by("username")) if roles.is_chief(request.user) else []
    return render(
        request,
        "console/attempt.html",
        {
            **_base_context(request),
            "attempt": attempt,
            "session": attempt.session,
            "candidate": attempt.candidate,
            "tile": tile,
            "tile_json": tile.as_json(),
            "timeline": [e.as_json() for e in selectors.attempt_timeline(attempt=attempt)],
            "snapshots": [
                {"id": s.id, "seq": s.seq, "at": s.received_at.isoformat(), "passed": s.passed}
                for s in snapshots
            ],
            "incidents": selectors.open_incidents(attempt=attempt),
            "phrases": PHRASES,
            "is_live": attempt.status not in TERMINAL,
            "proctors": proctors,
            "verdict": ReviewVerdict.objects.filter(attempt=attempt).first(),
            "verdicts": ReviewVerdict.Verdict.choices,
        },
    )


@require_GET
@proctor_view
def attempt_timeline(request: HttpRequest, attempt_id: int) -> JsonResponse:
    """The timeline again (the candidate view refreshes it when a delta arrives)."""
    attempt = selectors.attempt_for_user(user=request.user, attempt_id=attempt_id)
    snaps = selectors.attempt_snapshots(attempt=attempt)
    return JsonResponse(
        {
            "timeline": [e.as_json() for e in selectors.attempt_timeline(attempt=attempt)],
            "snapshots": [
                {"id": s.id, "seq": s.seq, "at": s.received_at.isoformat(), "passed": s.passed} for s in snaps
            ],
            "incidents": [
                {"id": i.pk, "kind": i.kind, "severity": i.severity}
                for i in selectors.open_incidents(attempt=attempt)
            ],
        }
    )


@require_GET
@proctor_view
def candidate_photo(request: HttpRequest, attempt_id: int) -> HttpResponseBase:
    attempt = selectors.attempt_for_user(user=request.user, attempt_id=attempt_id)
    photo = attempt.candidate.photo
    if not photo:
        raise errors.EvidenceMissing()
    services.audit_record(
        actor=request.user,
        action="view_photo",
        session_id=attempt.session_id,
        attempt_id=attempt.pk,
        target=f"candidate:{attempt.candidate_id}",
    )
    try:
        response = FileResponse(photo.open("rb"), content_type="image/jpeg")
    except FileNotFoundError:
        raise errors.EvidenceMissing() from None
    response["Cache-Control"] = "private, max-age=600"
    response["X-Content-Type-Options"] = "nosniff"
    return response


@require_POST
@proctor_view
def ws_ticket(request: HttpRequest) -> JsonResponse:
    """A single-use ticket for /ws/proctor/, fetched by the page's JavaScript at connect time (never
    rendered into HTML). CSRF-protected: another site cannot mint one with the proctor's cookie."""
    from monitor.services import ws_ticket_issue

    issued = ws_ticket_issue(role="proctor", user=request.user)
    response = JsonResponse({"path": "/ws/proctor/", "ticket": issued.raw})
    response["Cache-Control"] = "no-store"
    return response


def _json_body(request: HttpRequest) -> dict[str, Any]:
    try:
        body = json.loads(request.body or b"{}")
    except (ValueError, UnicodeDecodeError):
        raise errors.InvalidCommand(extra={"problem": "malformed"}) from None
    if not isinstance(body, dict):
        raise errors.InvalidCommand(extra={"problem": "malformed"})
    return body


@require_POST
@proctor_view
def command(request: HttpRequest, attempt_id: int) -> JsonResponse:
    """The same commands as the WebSocket (when the socket is down): JSON body as in monitor.protocol."""
    kind = services.console_command(actor=request.user, attempt_id=attempt_id, payload=_json_body(request))
    return JsonResponse({"ok": True, "type": kind})


@require_POST
@proctor_view
def split(request: HttpRequest, session_id: int) -> HttpResponseRedirect:
    selectors.session_for_user(user=request.user, session_id=session_id)
    services.attempts_split(
        session_id=session_id, actor=request.user, rebalance=request.POST.get("rebalance") == "1"
    )
    return HttpResponseRedirect(reverse("console:grid", args=[session_id]))


@require_POST
@proctor_view
def reassign(request: HttpRequest, attempt_id: int) -> HttpResponseRedirect:
    selectors.attempt_for_user(user=request.user, attempt_id=attempt_id)
    proctor = get_user_model().objects.filter(pk=_int(request.POST.get("proctor_id"))).first()
    if proctor is None:
        raise errors.ProctorNotInSession()
    services.attempt_reassign(attempt_id=attempt_id, proctor_id=proctor.pk, actor=request.user)
    return HttpResponseRedirect(reverse("console:attempt", args=[attempt_id]))


@require_GET
@proctor_view
def review(request: HttpRequest, session_id: int) -> HttpResponse:
    session = selectors.session_for_user(user=request.user, session_id=session_id)
    rows = selectors.review_queue(
        user=request.user, session=session, pending_only=request.GET.get("pending") == "1"
    )
    return render(
        request,
        "console/review.html",
        {
            **_base_context(request),
            "session": session,
            "rows": rows,
            "verdicts": ReviewVerdict.Verdict.choices,
            "pending_only": request.GET.get("pending") == "1",
            "audit": selectors.audit_for(session=session, limit=200) if roles.is_chief(request.user) else [],
        },
    )


@require_POST
@proctor_view
def verdict(request: HttpRequest, attempt_id: int) -> HttpResponseBase:
    record = services.review_verdict_set(
        attempt_id=attempt_id,
        verdict=request.POST.get("verdict", ""),
        notes=request.POST.get("notes", ""),
        actor=request.user,
    )
    if _wants_json(request):
        return JsonResponse({"ok": True, "verdict": record.verdict})
    back = request.POST.get("next", "")
    target = reverse("console:review", args=[record.attempt.session_id])
    if back == "attempt":
        target = reverse("console:attempt", args=[attempt_id])
    return HttpResponseRedirect(target)
