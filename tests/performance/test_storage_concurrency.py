"""Identical frames from different phones share one content-addressed key; storing them at the same
moment from several threads must work (it failed with FileNotFoundError when both writers used one
temp file name: the first rename took the other's file away)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from media_pipeline import storage


def test_many_threads_writing_the_same_key_at_once_all_succeed(tmp_path: Path) -> None:
    target = tmp_path / "snapshots" / "ab" / "ab12.jpg"
    data = b"\xff\xd8" + bytes(range(256)) * 200 + b"\xff\xd9"

    def write(_: int) -> None:
        storage._fsync_write(target, data)

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(write, range(200)))  # raises here if any writer failed

    assert target.read_bytes() == data
    assert sorted(p.name for p in target.parent.iterdir()) == ["ab12.jpg"]  # no temp file left
