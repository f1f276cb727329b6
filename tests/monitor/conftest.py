"""A daphne server the way the monitor is deployed: the WebSocket message limit just above a snapshot.

daphne's default ``--websocket_max_message_size`` is exactly 1 MiB, so a full-size snapshot plus its
header would be cut by the transport without a close code; deployments pass MAX_WS_MESSAGE_BYTES
(docs/protocol.md) so our consumer answers oversized frames with ``frame_too_large`` instead.
"""

from __future__ import annotations

from pathlib import Path

from django.conf import settings

from monitor import protocol
from tests import services


def max_ws_message_bytes() -> int:
    return int(settings.SNAPSHOT_MAX_BYTES) + protocol.MAX_SNAPSHOT_HEADER_BYTES + 4 + 64 * 1024


def start_server(env: dict[str, str], log_dir: Path) -> services.Process:
    port = services.free_port()
    args = [
        str(services.VENV_BIN / "daphne"),
        "-b",
        "127.0.0.1",
        "-p",
        str(port),
        "--websocket-max-message-size",
        str(max_ws_message_bytes()),
        "--websocket-max-frame-size",
        str(max_ws_message_bytes()),
        "config.asgi:application",
    ]
    proc = services.spawn("daphne", args, env=env, log_dir=log_dir, port=port)
    try:
        services.wait_for_http(f"http://127.0.0.1:{port}/healthz", proc=proc.popen)
    except services.ServiceError:
        tail = proc.log_tail()
        proc.stop()
        raise services.ServiceError(f"daphne did not start:\n{tail}") from None
    proc.extra["url"] = f"http://127.0.0.1:{port}"
    return proc
