"""Per-check accuracy, precision and recall of the checks on the evaluation set, and time per frame.

    .venv/bin/python -m media_pipeline.evaluation.build /tmp/evalset
    .venv/bin/python -m media_pipeline.evaluation.evaluate /tmp/evalset [--json]

"Positive" is the property as the report names it (``too_dark`` True, ``head_top_visible`` True,
``person_present`` = at least one person, ``multiple_people`` = two or more).
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2

from media_pipeline.checks import (
    FrameReport,
    PersonDetector,
    Signature,
    Thresholds,
    analyse_frame,
    default_detector,
    detector_create,
)
from media_pipeline.checks.image import decode, to_gray
from media_pipeline.checks.temporal import signature


@dataclass
class Tally:
    tp: int = 0
    fp: int = 0
    tn: int = 0
    fn: int = 0
    misses: list[str] = field(default_factory=list)

    def add(self, *, truth: bool, predicted: bool, item: str) -> None:
        if truth and predicted:
            self.tp += 1
        elif truth:
            self.fn += 1
            self.misses.append(item)
        elif predicted:
            self.fp += 1
            self.misses.append(item)
        else:
            self.tn += 1

    @property
    def n(self) -> int:
        return self.tp + self.fp + self.tn + self.fn

    def row(self) -> dict[str, Any]:
        accuracy = (self.tp + self.tn) / self.n if self.n else 0.0
        precision = self.tp / (self.tp + self.fp) if self.tp + self.fp else None
        recall = self.tp / (self.tp + self.fn) if self.tp + self.fn else None
        return {
            "n": self.n,
            "positives": self.tp + self.fn,
            "accuracy": round(accuracy, 3),
            "precision": None if precision is None else round(precision, 3),
            "recall": None if recall is None else round(recall, 3),
            "errors": sorted(self.misses),
        }


BOOLEAN_CHECKS = (
    "head_top_visible",
    "chest_visible",
    "desk_visible",
    "too_dark",
    "overexposed",
    "backlit",
    "blurred",
    "blocked",
)


def evaluate(
    directory: Path, *, thresholds: Thresholds | None = None, detector: PersonDetector | None = None
) -> dict[str, Any]:
    cv2.setNumThreads(1)
    manifest = json.loads((directory / "labels.json").read_text())
    t = thresholds or Thresholds()
    det = detector or default_detector()
    tallies: dict[str, Tally] = {}
    exact_count = Tally()
    durations: list[float] = []

    def tally(name: str) -> Tally:
        return tallies.setdefault(name, Tally())

    for filename, labels in sorted(manifest["images"].items()):
        if not labels:
            continue  # frames only used in sequences
        data = (directory / filename).read_bytes()
        started = time.process_time()  # CPU time: stable while other processes share the cores
        report = analyse_frame(data, thresholds=t, detector=det)
        durations.append((time.process_time() - started) * 1000)
        if "person_count" in labels:
            truth = int(labels["person_count"])
            tally("person_present").add(truth=truth >= 1, predicted=report.person_count >= 1, item=filename)
            tally("multiple_people").add(truth=truth >= 2, predicted=report.person_count >= 2, item=filename)
            exact_count.add(truth=True, predicted=report.person_count == truth, item=filename)
        for name in BOOLEAN_CHECKS:
            if name in labels:
                tally(name).add(truth=bool(labels[name]), predicted=report.flag(name), item=filename)

    for seq in manifest["sequences"]:
        frames = [(directory / f).read_bytes() for f in seq["frames"]]
        if seq["check"] == "frozen":
            previous: list[Signature] = []
            last: FrameReport | None = None
            for data in frames:
                last = analyse_frame(data, thresholds=t, detector=det, previous=list(reversed(previous)))
                previous.append(last.signature)
            assert last is not None
            tally("frozen").add(truth=seq["label"], predicted=last.flag("frozen"), item=seq["frames"][-1])
        else:
            ref_img = decode((directory / seq["reference"]).read_bytes(), analysis_width=t.analysis_width)
            ref = signature(to_gray(ref_img))
            report = analyse_frame(frames[0], thresholds=t, detector=det, reference=ref)
            tally("scene_drift").add(
                truth=seq["label"], predicted=report.flag("scene_drift"), item=seq["frames"][0]
            )

    rows = {name: tallies[name].row() for name in sorted(tallies)}
    count_row = exact_count.row()
    rows["person_count_exact"] = {
        "n": count_row["n"],
        "accuracy": count_row["accuracy"],
        "errors": count_row["errors"],
    }
    durations.sort()
    return {
        "detector": det.name,
        "images": len(durations),
        "ms_per_frame_median": round(statistics.median(durations), 1),
        "ms_per_frame_p95": round(durations[int(0.95 * (len(durations) - 1))], 1),
        "checks": rows,
    }


def markdown(result: dict[str, Any]) -> str:
    lines = [
        f"Detector `{result['detector']}`, {result['images']} labelled images, "
        f"{result['ms_per_frame_median']} ms median / {result['ms_per_frame_p95']} ms p95 "
        "CPU time per frame (one thread).",
        "",
        "| check | n | positives | accuracy | precision | recall | errors |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, row in result["checks"].items():
        errors = ", ".join(row["errors"]) or "—"
        lines.append(
            f"| {name} | {row['n']} | {row.get('positives', '')} | {row['accuracy']} | "
            f"{row.get('precision', '') if row.get('precision') is not None else '—'} | "
            f"{row.get('recall', '') if row.get('recall') is not None else '—'} | {errors} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("directory", type=Path)
    parser.add_argument("--json", action="store_true")
    parser.add_argument(
        "--detector", default="auto", help="auto (YuNet if installed, else Haar), yunet, haar"
    )
    parser.add_argument("--detect-width", type=int, default=None, help="override the detector's copy width")
    args = parser.parse_args()
    options = {} if args.detect_width is None else {"detect_width": args.detect_width}
    result = evaluate(args.directory, detector=detector_create(args.detector, **options))
    print(json.dumps(result, indent=1) if args.json else markdown(result))


if __name__ == "__main__":
    main()
