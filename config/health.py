"""Liveness and readiness probes.

``/healthz``: the process answers. ``/readyz``: each dependency is checked and reported; 503 when
any fails, so a load balancer stops sending traffic to a process that cannot do its job.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import storages
from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.http import require_GET


def _check_database() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()


def _check_channel_layer() -> None:
    layer = get_channel_layer()
    if layer is None:
        raise RuntimeError("no channel layer configured")

    async def round_trip() -> None:
        channel = await layer.new_channel()
        # Pub/sub: a message published before Redis has processed the channel's SUBSCRIBE is not
        # delivered, so the ping is sent again (up to 3 s) rather than waited for forever.
        receiving = asyncio.ensure_future(layer.receive(channel))
        try:
            for _ in range(3):
                await layer.send(channel, {"type": "readyz.ping"})
                done, _pending = await asyncio.wait({receiving}, timeout=1.0)
                if done:
                    if receiving.result().get("type") != "readyz.ping":
                        raise RuntimeError("channel layer returned the wrong message")
                    return
            raise RuntimeError("channel layer did not deliver a message within 3 s")
        finally:
            receiving.cancel()

    async_to_sync(round_trip)()


def _check_broker() -> None:
    if getattr(settings, "TASKS_IN_PROCESS", False):
        return  # embedded profile: tasks run in-process, there is no broker to reach
    from config.celery import app

    with app.connection_for_write() as conn:
        conn.ensure_connection(max_retries=1, timeout=2)


def _check_storage() -> None:
    storage = storages["evidence"]
    name = storage.save(f"readyz/{uuid.uuid4().hex}.txt", ContentFile(b"ok"))
    try:
        with storage.open(name) as fh:
            if fh.read() != b"ok":
                raise RuntimeError("storage returned different bytes")
    finally:
        storage.delete(name)


CHECKS: dict[str, Callable[[], None]] = {
    "database": _check_database,
    "channel_layer": _check_channel_layer,
    "broker": _check_broker,
    "storage": _check_storage,
}


@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


@require_GET
def readyz(request: HttpRequest) -> JsonResponse:
    results: dict[str, dict[str, object]] = {}
    for name, check in CHECKS.items():
        started = time.perf_counter()
        try:
            check()
            results[name] = {"ok": True}
        except Exception as exc:  # noqa: BLE001 - a probe reports every failure, whatever it is
            results[name] = {"ok": False, "error": type(exc).__name__}
        results[name]["ms"] = round((time.perf_counter() - started) * 1000, 1)
    ok = all(r["ok"] for r in results.values())
    profile = "embedded" if getattr(settings, "TASKS_IN_PROCESS", False) else "production"
    return JsonResponse(
        {"status": "ok" if ok else "fail", "profile": profile, "checks": results}, status=200 if ok else 503
    )
