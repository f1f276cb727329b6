"""Evidence export benchmark (a script, not a test): peak memory and time of a session bundle.

Builds two sessions on a throw-away database and evidence folder — 200 and 1,000 snapshots of
~40 KB JPEGs (generated with numpy/Pillow, rows created directly) — exports each through the real
path (``export_job_build``: ZIP streamed into a temporary file, snapshots read from evidence
storage in chunks, uploaded to storage), verifies the bundle, and prints time, Python heap peak
(tracemalloc, a separate pass because tracing slows Python down) and the RSS high-water mark.
The point: peak memory does not grow with the bundle size (ratio ≈ 1 for 5× the data).

    .venv/bin/python benchmarks/export_benchmark.py [--sizes 200 1000] [--attempts-per-session 20]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
WORK = Path(os.environ.get("EXPORT_BENCHMARK_WORK") or tempfile.mkdtemp(prefix="export-benchmark-"))
os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings.embedded"
os.environ["MONITOR_DATA_DIR"] = str(WORK)
os.environ["DATABASE_URL"] = f"sqlite:///{WORK / 'bench.sqlite3'}"

import django  # noqa: E402

django.setup()

import hashlib  # noqa: E402
from datetime import timedelta  # noqa: E402

import numpy as np  # noqa: E402
from django.core.files.base import ContentFile  # noqa: E402
from django.core.files.storage import storages  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.utils import timezone  # noqa: E402
from PIL import Image  # noqa: E402

from accounts import id_numbers  # noqa: E402
from accounts.services import candidate_create  # noqa: E402
from exams.models import Attempt, ExamSession, Subject  # noqa: E402
from media_pipeline.evidence import bundle, signing  # noqa: E402
from media_pipeline.evidence.services import Actor, export_job_build, export_job_create  # noqa: E402
from media_pipeline.models import Snapshot  # noqa: E402
from monitor.models import PhoneDevice  # noqa: E402

_NOISE: np.ndarray | None = None
_BASE: np.ndarray | None = None


def jpeg_40kb(seed: int) -> bytes:
    """A 640×480 frame of smooth content plus noise, ~40 KB as JPEG (like a phone snapshot).
    The noise is a crop of one precomputed field at a seed-dependent offset (fast, and every
    seed gives different bytes, so content-addressed storage keeps them all)."""
    global _BASE, _NOISE
    if _BASE is None or _NOISE is None:
        y, x = np.mgrid[0:480, 0:640]
        _BASE = np.stack([(x / 640 * 255), (y / 480 * 255), ((x + y) / 1120 * 255)], axis=-1)
        _NOISE = np.random.default_rng(0).normal(0, 11, size=(480 + 64, 640 + 64, 3))
    dy, dx = seed % 64, (seed // 64) % 64
    pixels = np.clip(_BASE + _NOISE[dy : dy + 480, dx : dx + 640] + (seed // 4096) % 7, 0, 255).astype(
        np.uint8
    )
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, format="JPEG", quality=72)
    return out.getvalue()


def make_session(n_snapshots: int, attempts: int, seed0: int) -> tuple[ExamSession, int]:
    subject, _ = Subject.objects.get_or_create(code="bench", defaults={"name": "碳排放管理技术"})
    ends = timezone.now()
    session = ExamSession.objects.create(
        subject=subject, level="junior", starts_at=ends - timedelta(hours=2), ends_at=ends
    )
    storage = storages["evidence"]
    total_bytes = 0
    per_attempt = n_snapshots // attempts
    for a in range(attempts):
        n = seed0 + a
        cand = candidate_create(
            ticket_number=f"139{n:08d}",
            id_number=id_numbers.make_valid(f"110101199001{n:05d}"),
            name=f"考生{n}",
        )
        attempt = Attempt.objects.create(candidate=cand, session=session, status="submitted")
        device = PhoneDevice.objects.create(attempt=attempt, kind="miniprogram")
        rows = []
        for seq in range(1, per_attempt + 1):
            data = jpeg_40kb(n * 10_000 + seq)
            total_bytes += len(data)
            sha = hashlib.sha256(data).hexdigest()
            key = f"snapshots/{sha[:2]}/{sha}.jpg"
            storage.save(key, ContentFile(data))
            at = session.starts_at + timedelta(seconds=10 * seq)
            rows.append(
                Snapshot(
                    attempt=attempt,
                    device=device,
                    seq=seq,
                    captured_at=at,
                    received_at=at,
                    sha256=sha,
                    storage_key=key,
                    content_type="image/jpeg",
                    width=640,
                    height=480,
                    size_bytes=len(data),
                )
            )
        Snapshot.objects.bulk_create(rows)
    return session, total_bytes


def _status_kb(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def _reset_rss_peak() -> int:
    """Resets the RSS high-water mark (Linux: "5" > /proc/self/clear_refs) so VmHWM afterwards is
    the export's own peak, not start-up's; returns the current RSS in KB."""
    with contextlib.suppress(OSError):
        Path("/proc/self/clear_refs").write_text("5")
    return _status_kb("VmRSS")


def export_child(session_id: int, trace: bool) -> None:
    """Runs in a fresh process so its RSS high-water mark belongs to this export alone."""
    session = ExamSession.objects.get(pk=session_id)
    job = export_job_create(actor=Actor.command("export_benchmark"), session_id=session.pk, enqueue=False)
    rss_before = _reset_rss_peak()
    if trace:
        tracemalloc.start()
    started = time.perf_counter()
    job = export_job_build(job_id=job.pk)
    elapsed = time.perf_counter() - started
    peak = tracemalloc.get_traced_memory()[1] if trace else 0
    rss_after = _status_kb("VmHWM")
    assert job.status == "done", job.error
    with storages["evidence"].open(job.file_key, "rb") as handle:
        report = bundle.verify_bundle(handle, signing.configured_public_key())
    assert report.ok, report.problems
    print(
        json.dumps(
            {
                "seconds": elapsed,
                "heap_peak": peak,
                "bundle_bytes": job.size_bytes,
                "rss_before_kb": rss_before,
                "rss_after_kb": rss_after,
                "files_checked": report.files_checked,
            }
        )
    )


def run_child(session_id: int, trace: bool) -> dict[str, float]:
    cmd = [sys.executable, __file__, "--export-session", str(session_id)] + (["--trace"] if trace else [])
    env = {**os.environ, "EXPORT_BENCHMARK_WORK": str(WORK)}
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True).stdout
    result: dict[str, float] = json.loads(out.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", type=int, nargs="+", default=[200, 1000])
    parser.add_argument("--attempts-per-session", type=int, default=20)
    parser.add_argument("--export-session", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--trace", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.export_session:
        export_child(args.export_session, args.trace)
        return

    call_command("migrate", verbosity=0)
    print(f"work dir {WORK}")
    sessions = []
    for i, size in enumerate(args.sizes):
        t0 = time.perf_counter()
        session, total = make_session(size, args.attempts_per_session, seed0=1000 * (i + 1))
        print(
            f"session {session.pk}: {size} snapshots in {args.attempts_per_session} attempts, "
            f"{total / size / 1024:.1f} KB mean, {total / 1e6:.1f} MB images "
            f"(generated in {time.perf_counter() - t0:.1f}s)"
        )
        sessions.append((size, session))

    results = []
    for size, session in sessions:
        plain = run_child(session.pk, trace=False)
        traced = run_child(session.pk, trace=True)
        growth_mb = (plain["rss_after_kb"] - plain["rss_before_kb"]) / 1024
        results.append((size, plain["seconds"], traced["heap_peak"], plain["bundle_bytes"], growth_mb))
        print(
            f"{size:>5} snapshots: {plain['seconds']:6.2f} s ({size / plain['seconds']:5.0f} snapshots/s), "
            f"bundle {plain['bundle_bytes'] / 1e6:5.1f} MB, {plain['files_checked']:.0f} files verified; "
            f"Python heap peak {traced['heap_peak'] / 1e6:5.2f} MB (tracemalloc); RSS high-water "
            f"{plain['rss_after_kb'] / 1024:5.1f} MB during the export "
            f"(+{growth_mb:.1f} MB over the RSS before it)"
        )
    if len(results) >= 2:
        small, large = results[0], results[-1]
        print(
            f"bundle ×{large[3] / small[3]:.1f}: time ×{large[1] / small[1]:.2f}, "
            f"heap peak ×{large[2] / small[2]:.2f}, RSS growth {small[4]:.1f} MB vs {large[4]:.1f} MB"
        )


if __name__ == "__main__":
    main()
