"""The embedded demo behind `make run`: migrate, demo data, fake WeChat, daphne, simulated candidates.

Every part is the real product code on the embedded profile; the simulated candidates speak the
same HTTP and WebSocket protocol as the mini-program and the desktop client.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
PY = sys.executable


def manage(*args: str) -> None:
    subprocess.run([PY, "manage.py", *args], cwd=ROOT, check=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
    parser.add_argument("--candidates", type=int, default=12, help="simulated candidates to stream")
    parser.add_argument("--no-simulator", action="store_true")
    args = parser.parse_args()

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.embedded")
    os.environ.setdefault("PUBLIC_BASE_URL", f"http://127.0.0.1:{args.port}")
    manage("migrate", "--noinput", "-v0")
    manage("load_demo")

    from tests.services import daphne_command, spawn, wait_for_http  # the helpers the tests use

    log_dir = ROOT / "data" / "logs"
    procs = []
    wechat = spawn("fake-wechat", [PY, "manage.py", "run_fake_wechat", "--port", "8765"], log_dir=log_dir)
    procs.append(wechat)
    server = spawn("daphne", daphne_command(args.port), log_dir=log_dir)
    procs.append(server)
    base = f"http://127.0.0.1:{args.port}"
    wait_for_http(base + "/healthz", proc=server.popen)
    if not args.no_simulator:
        procs.append(
            spawn(
                "simulator",
                [
                    PY,
                    "manage.py",
                    "simulate_candidates",
                    "--count",
                    str(args.candidates),
                    "--url",
                    base,
                    "--forever",
                ],
                log_dir=log_dir,
            )
        )
    print(
        f"""
Exam cloud monitor is running (embedded profile). Logs: {log_dir}
  Proctor console   {base}/console/          (demo proctor: proctor / proctor-demo)
  Django admin      {base}/admin/            (demo admin: admin / admin-demo)
  API docs          {base}/api/docs/
  Protocol docs     docs/protocol.md
  Health            {base}/healthz   {base}/readyz
Press Ctrl-C to stop.""",
        flush=True,
    )
    try:
        while all(p.popen.poll() is None for p in procs if p.name != "simulator"):
            time.sleep(1)
    except KeyboardInterrupt:
        pass
    finally:
        for proc in reversed(procs):
            proc.stop(signal.SIGTERM)
    return 0


if __name__ == "__main__":
    sys.exit(main())
