"""Build the labelled evaluation set from real photographs that ship inside registry packages.

Sources (nobody on this team made them): scikit-image ``skimage/data`` (astronaut, camera,
coffee, rocket, motorcycle_left, chelsea) and matplotlib ``mpl-data/sample_data/grace_hopper.jpg``.
Every variant's label follows from how it was made (a crop that ends above the chin cannot show
the chest; a picture scaled to a quarter of its brightness is dark; ...). The only hand labels
are the head-top and chin rows of the three people, read once off the photographs.

    .venv/bin/python -m media_pipeline.evaluation.build OUT_DIR [--face-recognition-photos]

``--face-recognition-photos`` adds five portraits from the ``face_recognition`` 1.3.0 source
package (``pip download face_recognition==1.3.0 --no-binary :all: --no-deps``; fetched once into
``~/.cache/exam-monitor-eval``), labelled by hand and never used to choose a threshold: they are
the held-out check that the detector and thresholds are not fitted to the three people above.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np


def skimage_data() -> Path:
    import skimage

    return Path(skimage.__file__).parent / "data"


def matplotlib_data() -> Path:
    import matplotlib

    return Path(matplotlib.get_data_path()) / "sample_data"


@dataclass(frozen=True)
class Person:
    name: str
    path: Path
    head_top: int  # row of the top of the head (hair / cap) in the original
    chin: int  # row of the chin in the original


def people() -> list[Person]:
    sk, mp = skimage_data(), matplotlib_data()
    return [
        Person("astronaut", sk / "astronaut.png", head_top=15, chin=150),
        Person("grace_hopper", mp / "grace_hopper.jpg", head_top=20, chin=300),
        Person("camera", sk / "camera.png", head_top=65, chin=190),
    ]


def no_people() -> list[tuple[str, Path, bool]]:
    """(name, path, desk in view) — coffee is a cup on a table seen from above."""
    sk = skimage_data()
    return [
        ("coffee", sk / "coffee.png", True),
        ("rocket", sk / "rocket.jpg", False),
        ("motorcycle", sk / "motorcycle_left.png", False),
        ("chelsea", sk / "chelsea.png", False),
    ]


def read(path: Path) -> np.ndarray:
    img = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if img is None:
        raise FileNotFoundError(path)
    return img


def fit(img: np.ndarray, width: int = 640) -> np.ndarray:
    h, w = img.shape[:2]
    return cv2.resize(img, (width, round(h * width / w)), interpolation=cv2.INTER_AREA)


def scale_luma(img: np.ndarray, factor: float, offset: float = 0.0) -> np.ndarray:
    return np.clip(img.astype(np.float32) * factor + offset, 0, 255).astype(np.uint8)


def covered(
    shape: tuple[int, ...], colour: tuple[int, int, int], low: float, high: float, rng: Any
) -> np.ndarray:
    """A lens covered by skin: a smooth radial gradient of one colour plus sensor noise."""
    h, w = shape[:2]
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    cx, cy = w * rng.uniform(0.2, 0.8), h * rng.uniform(0.2, 0.8)
    r = np.sqrt((xx - cx) ** 2 + (yy - cy) ** 2) / np.hypot(w, h)
    gain = low + (high - low) * np.clip(r * 1.6, 0, 1)
    img = np.stack([gain * c for c in colour], axis=-1) + rng.normal(0, 2.5, (h, w, 3))
    return cv2.GaussianBlur(np.clip(img, 0, 255).astype(np.uint8), (0, 0), 2)


CLEAN = {"too_dark": False, "overexposed": False, "backlit": False, "blurred": False, "blocked": False}


class Builder:
    def __init__(self, out: Path) -> None:
        self.out = out
        out.mkdir(parents=True, exist_ok=True)
        self.labels: dict[str, dict[str, Any]] = {}
        self.sequences: list[dict[str, Any]] = []

    def add(self, name: str, img: np.ndarray, **labels: Any) -> str:
        filename = f"{name}.jpg"
        cv2.imwrite(str(self.out / filename), img, [cv2.IMWRITE_JPEG_QUALITY, 90])
        self.labels[filename] = labels
        return filename

    def write(self) -> None:
        manifest = {"images": self.labels, "sequences": self.sequences}
        (self.out / "labels.json").write_text(json.dumps(manifest, indent=1, sort_keys=True))


FACE_RECOGNITION_LABELS: dict[str, dict[str, Any]] = {
    # Hand labels; a property that is ambiguous in the photo is left out.
    "obama.jpg": {"person_count": 1, "head_top_visible": True, "chest_visible": True},
    "biden.jpg": {"person_count": 1, "head_top_visible": True, "chest_visible": True},
    "obama3.jpg": {"head_top_visible": True, "chest_visible": True},  # a stranger's sleeve at the edge
    "obama_partial_face.jpg": {"person_count": 1, "chest_visible": True},  # hair touches the top edge
    "obama_partial_face2.jpg": {"person_count": 1, "chest_visible": True},
}


def face_recognition_photos() -> Path:
    import subprocess
    import sys
    import tarfile

    cache = Path.home() / ".cache" / "exam-monitor-eval"
    folder = cache / "face_recognition-1.3.0" / "tests" / "test_images"
    if not folder.exists():
        cache.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "face_recognition==1.3.0", "--no-binary", ":all:"]
            + ["--no-deps", "-d", str(cache)],
            check=True,
        )
        with tarfile.open(cache / "face_recognition-1.3.0.tar.gz") as tar:
            members = [m for m in tar.getmembers() if "/tests/test_images/" in m.name and m.isfile()]
            tar.extractall(cache, members=members, filter="data")
    return folder


def build(out: Path, *, face_recognition: bool = False) -> Path:
    b = Builder(out)
    if face_recognition:
        folder = face_recognition_photos()
        for filename, labels in FACE_RECOGNITION_LABELS.items():
            b.add(f"fr_{Path(filename).stem}", fit(read(folder / filename)), **labels, **CLEAN)
    rng = np.random.default_rng(20261101)  # fixed: the set is reproducible
    persons = people()
    originals = {p.name: read(p.path) for p in persons}

    for p in persons:
        img = originals[p.name]
        head = p.chin - p.head_top
        framed = {"person_count": 1, "head_top_visible": True, "chest_visible": True, "desk_visible": False}
        b.add(f"{p.name}", fit(img), **framed, **CLEAN)
        # head cut: the picture starts at the eyebrows
        top = p.head_top + int(0.4 * head)
        b.add(f"{p.name}_headcut", fit(img[top:]), person_count=1, head_top_visible=False, **CLEAN)
        # chest cut: the picture ends just under the chin
        bottom = p.chin + int(0.25 * head)
        b.add(f"{p.name}_chestcut", fit(img[:bottom]), person_count=1, chest_visible=False, **CLEAN)
        # desk composite: the person over a real table top (coffee.png), like a 45° view of a desk
        desk = read(skimage_data() / "coffee.png")
        person_part = fit(img[: min(img.shape[0], p.chin + int(1.6 * head))])
        table = cv2.resize(desk, (640, int(person_part.shape[0] * 0.8)), interpolation=cv2.INTER_AREA)
        b.add(
            f"{p.name}_desk",
            np.vstack([person_part, table]),
            person_count=1,
            head_top_visible=True,
            chest_visible=True,
            desk_visible=True,
            **CLEAN,
        )
        base = fit(img)
        b.add(f"{p.name}_dark", scale_luma(base, 0.22), person_count=1, too_dark=True, blocked=False)
        b.add(f"{p.name}_dim", scale_luma(base, 0.7), **framed, **CLEAN)
        b.add(f"{p.name}_over", scale_luma(base, 2.6, 70), overexposed=True, blocked=False, too_dark=False)
        b.add(
            f"{p.name}_blur", cv2.GaussianBlur(base, (0, 0), 4.0), person_count=1, blurred=True, blocked=False
        )
        b.add(f"{p.name}_softblur", cv2.GaussianBlur(base, (0, 0), 0.8), **framed, **CLEAN)
        # backlight: the candidate darkened, a blown-out window beside them (the outer third)
        lit = scale_luma(base, 0.38)
        w = lit.shape[1]
        lit[:, : w // 3] = np.clip(250 + rng.normal(0, 2, lit[:, : w // 3].shape), 0, 255).astype(np.uint8)
        b.add(f"{p.name}_backlit", lit, person_count=1, backlit=True, too_dark=False, blocked=False)
        # covered lens: a finger (warm, out of focus, light leaking round the edge) or a palm in a dark room
        b.add(
            f"{p.name}_finger",
            covered(base.shape, (95, 120, 185), 0.25, 1.2, rng),
            person_count=0,
            blocked=True,
        )
        b.add(
            f"{p.name}_palm", covered(base.shape, (40, 45, 60), 0.1, 0.9, rng), person_count=0, blocked=True
        )

    # two people side by side (a helper next to the candidate)
    names = [p.name for p in persons]
    for i, a in enumerate(names[:2]):
        other = names[1 - i]
        left = cv2.resize(originals[a], (320, 400), interpolation=cv2.INTER_AREA)
        right = cv2.resize(originals[other], (320, 400), interpolation=cv2.INTER_AREA)
        b.add(f"two_{a}_{other}", np.hstack([left, right]), person_count=2)
    # a second, smaller person in the background
    big = fit(originals["astronaut"])
    small = cv2.resize(originals["grace_hopper"], (170, 200), interpolation=cv2.INTER_AREA)
    inset = big.copy()
    inset[10:210, 640 - 180 : 640 - 10] = small
    b.add("two_background", inset, person_count=2)

    for name, path, has_desk in no_people():
        img = fit(read(path))
        b.add(name, img, person_count=0, desk_visible=has_desk, **CLEAN)
        b.add(f"{name}_dark", scale_luma(img, 0.2), person_count=0, too_dark=True, blocked=False)

    # frozen feed: the same frame re-sent (re-encoded) vs a live still scene (small movement + noise)
    for p in persons:
        base = fit(originals[p.name])
        same = [b.add(f"{p.name}_frozen_{i}", base) for i in range(3)]
        b.sequences.append({"check": "frozen", "frames": same, "label": True})
        live = []
        for i in range(3):
            shift = np.array([[1, 0, 4 * i], [0, 1, 2 * i]], dtype=np.float32)
            moved = cv2.warpAffine(base, shift, (base.shape[1], base.shape[0]), borderMode=cv2.BORDER_REFLECT)
            noisy = np.clip(moved + rng.normal(0, 3, moved.shape), 0, 255).astype(np.uint8)
            live.append(b.add(f"{p.name}_live_{i}", noisy))
        b.sequences.append({"check": "frozen", "frames": live, "label": False})

    # scene drift against a reference: phone moved / rotated / fallen vs the same view re-lit
    for p in persons:
        ref = fit(originals[p.name])
        h, w = ref.shape[:2]
        ref_name = b.add(f"{p.name}_ref", ref)
        moved = cv2.warpAffine(ref, np.array([[1, 0, w * 0.3], [0, 1, h * 0.1]], dtype=np.float32), (w, h))
        rotated = cv2.warpAffine(ref, cv2.getRotationMatrix2D((w / 2, h / 2), 20, 1.0), (w, h))
        fallen = cv2.rotate(ref, cv2.ROTATE_90_CLOCKWISE)
        fallen = cv2.resize(fallen, (w, h))
        for kind, img in (("moved", moved), ("rotated", rotated), ("fallen", fallen)):
            b.sequences.append(
                {
                    "check": "scene_drift",
                    "reference": ref_name,
                    "frames": [b.add(f"{p.name}_{kind}", img)],
                    "label": True,
                }
            )
        relit = scale_luma(ref, 1.25, 10)
        nudged = cv2.warpAffine(
            ref, np.array([[1, 0, 6], [0, 1, 3]], dtype=np.float32), (w, h), borderMode=cv2.BORDER_REFLECT
        )
        for kind, img in (("relit", relit), ("nudged", nudged)):
            b.sequences.append(
                {
                    "check": "scene_drift",
                    "reference": ref_name,
                    "frames": [b.add(f"{p.name}_{kind}", img)],
                    "label": False,
                }
            )

    b.write()
    return out / "labels.json"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("out", type=Path)
    parser.add_argument("--face-recognition-photos", action="store_true")
    args = parser.parse_args()
    path = build(args.out, face_recognition=args.face_recognition_photos)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
