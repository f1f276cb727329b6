"""A daphne server the way the monitor is deployed (tests.services.daphne_command: the WebSocket
message limit just above the largest snapshot frame, the redacting access log)."""

from __future__ import annotations

from pathlib import Path

from tests import services


def start_server(env: dict[str, str], log_dir: Path) -> services.Process:
    return services.start_daphne(env, log_dir=log_dir)
