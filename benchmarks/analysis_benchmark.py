"""Analysis time per 640×480 snapshot on one core (median, p95) and one worker's throughput.

    .venv/bin/python benchmarks/analysis_benchmark.py [--frames 200]

Prints numbers; not a test. Frames: real photographs (scikit-image, matplotlib) resized to 640×480
and JPEG-encoded as a phone would send them; the full report (decode, detector, quality, temporal).
Three configurations run interleaved in the same process, so machine load hits them alike:
the quality-only pass (no detector: the floor), the Haar fallback (the previous default) and the
default detector. Wall time and process CPU time are both printed: CPU time stays honest when
other processes share the cores, wall time is what a worker sees.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")  # one core: YuNet's OpenMP pool too

import cv2  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from media_pipeline.checks import (  # noqa: E402
    Detection,
    HaarPersonDetector,
    PersonDetector,
    Signature,
    analyse_frame,
    default_detector,
)
from media_pipeline.evaluation.build import matplotlib_data, skimage_data  # noqa: E402


class NoDetector:
    name = "none (quality checks only)"

    def detect(self, gray: object, bgr: object) -> list[Detection]:
        return []


def frames() -> list[tuple[str, bytes]]:
    paths = [
        skimage_data() / n for n in ("astronaut.png", "camera.png", "coffee.png", "rocket.jpg", "chelsea.png")
    ]
    paths.append(matplotlib_data() / "grace_hopper.jpg")
    out = []
    for p in paths:
        source = cv2.imread(str(p), cv2.IMREAD_COLOR)
        assert source is not None, p
        img = cv2.resize(source, (640, 480), interpolation=cv2.INTER_AREA)
        ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, 85])
        out.append((p.name, buf.tobytes()))
    return out


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[int(q * (len(ordered) - 1))]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--frames", type=int, default=200)
    args = parser.parse_args()
    cv2.setNumThreads(1)
    samples = frames()
    detectors: list[PersonDetector] = [NoDetector(), HaarPersonDetector(), default_detector()]
    wall: dict[str, list[float]] = {d.name: [] for d in detectors}
    cpu: dict[str, list[float]] = {d.name: [] for d in detectors}
    per_image: dict[str, list[float]] = {name: [] for name, _ in samples}
    previous: dict[str, list[Signature]] = {d.name: [] for d in detectors}
    for det in detectors:
        analyse_frame(samples[0][1], detector=det)  # warm-up: models loaded
    for i in range(args.frames):
        name, data = samples[i % len(samples)]
        for det in detectors:
            t0, c0 = time.perf_counter(), time.process_time()
            report = analyse_frame(data, detector=det, previous=previous[det.name])
            wall[det.name].append((time.perf_counter() - t0) * 1000)
            cpu[det.name].append((time.process_time() - c0) * 1000)
            previous[det.name] = [report.signature, *previous[det.name]][:3]
            if det is detectors[-1]:
                per_image[name].append(wall[det.name][-1])

    default = detectors[-1].name
    print(f"{args.frames} frames of 640x480 JPEG per configuration; cv2 threads: 1; OMP threads: 1")
    print(f"load average at the end: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    columns = ("wall med", "wall p95", "cpu med", "cpu p95", "frames/s")
    print(f"{'configuration':32s} " + " ".join(f"{c:>9s}" for c in columns))
    for det in detectors:
        w, c = wall[det.name], cpu[det.name]
        print(
            f"{det.name:32s} {statistics.median(w):8.1f}  {pct(w, 0.95):8.1f}  {statistics.median(c):7.1f}  "
            f"{pct(c, 0.95):7.1f}  {1000 / statistics.mean(w):8.1f}"
        )
    base = HaarPersonDetector.name
    wall_ratio = statistics.median(wall[default]) / statistics.median(wall[base])
    cpu_ratio = statistics.median(cpu[default]) / statistics.median(cpu[base])
    print(f"default ({default}) vs Haar, median wall: {wall_ratio:.2f}x; median CPU: {cpu_ratio:.2f}x")
    print("one worker process = 1000 / mean wall ms (analysis only, no DB or storage)")
    for name, values in per_image.items():
        print(f"  {name:20s} default median {statistics.median(values):.1f} ms")


if __name__ == "__main__":
    main()
