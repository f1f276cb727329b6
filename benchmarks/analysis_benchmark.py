"""Analysis time per 640×480 snapshot on one core (median, p95) and one worker's throughput.

    .venv/bin/python benchmarks/analysis_benchmark.py [--frames 200]

Prints numbers; not a test. Frames: real photographs (scikit-image, matplotlib) resized to 640×480
and JPEG-encoded as a phone would send them; the full report (decode, detector, quality, temporal).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import cv2

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from media_pipeline.checks import analyse_frame, default_detector  # noqa: E402
from media_pipeline.evaluation.build import matplotlib_data, skimage_data  # noqa: E402


def frames() -> list[tuple[str, bytes]]:
    paths = [
        skimage_data() / n for n in ("astronaut.png", "camera.png", "coffee.png", "rocket.jpg", "chelsea.png")
    ]
    paths.append(matplotlib_data() / "grace_hopper.jpg")
    out = []
    for p in paths:
        img = cv2.resize(cv2.imread(str(p), cv2.IMREAD_COLOR), (640, 480), interpolation=cv2.INTER_AREA)
        ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, 85])
        out.append((p.name, buf.tobytes()))
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--frames", type=int, default=200)
    args = parser.parse_args()
    cv2.setNumThreads(1)
    detector = default_detector()
    samples = frames()
    analyse_frame(samples[0][1], detector=detector)  # warm-up: cascades loaded
    per_image: dict[str, list[float]] = {name: [] for name, _ in samples}
    times: list[float] = []
    started = time.perf_counter()
    previous = []
    for i in range(args.frames):
        name, data = samples[i % len(samples)]
        t0 = time.perf_counter()
        report = analyse_frame(data, detector=detector, previous=previous)
        ms = (time.perf_counter() - t0) * 1000
        previous = [report.signature, *previous][:3]
        times.append(ms)
        per_image[name].append(ms)
    wall = time.perf_counter() - started
    times.sort()
    print(f"detector: {detector.name}; {args.frames} frames of 640x480 JPEG; cv2 threads: 1")
    print(f"median {statistics.median(times):.1f} ms   p95 {times[int(0.95 * (len(times) - 1))]:.1f} ms")
    print(f"one worker process: {args.frames / wall:.1f} frames/s (analysis only, no DB or storage)")
    for name, values in per_image.items():
        print(f"  {name:20s} median {statistics.median(values):.1f} ms")


if __name__ == "__main__":
    main()
