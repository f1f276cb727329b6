"""CPU per audio batch in the phone-traffic group commit (monitor.services.phone_traffic_record, what
monitor.writer runs for every flush) by flush size, against one-by-one ``audio_ingest`` (one
transaction per batch: what a socket did before the writer) measured in the same run.

    .venv/bin/python benchmarks/writer_benchmark.py                  # PostgreSQL (scratch database)
    .venv/bin/python benchmarks/writer_benchmark.py --database sqlite

Prints numbers; not a test. The rounds interleave the flush sizes and the baseline, so machine load
hits them alike; process CPU time (not wall time) is reported, median over the rounds. A server's
writer sees flushes of ~10 batches at 1,000 phones (a 10 ms window) and bigger ones under load.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", choices=["postgresql", "sqlite"], default="postgresql")
    parser.add_argument("--sizes", default="1,10,100,500", help="flush sizes (batches per flush)")
    parser.add_argument("--batches", type=int, default=2000, help="batches per size and round")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    if not sizes or min(sizes) < 1 or args.batches < max(sizes) or args.rounds < 1:
        parser.error("sizes must be ≥ 1 and --batches at least the largest size")

    from load_benchmark import scratch_postgres  # this script's own directory

    work = Path(tempfile.mkdtemp(prefix="writer-bench-"))
    with ExitStack() as scratch:
        if args.database == "postgresql":
            url = scratch.enter_context(scratch_postgres())
        else:
            url = f"sqlite:///{work}/bench.sqlite3"
        os.environ.update(
            DJANGO_SETTINGS_MODULE="config.settings.embedded",
            DATABASE_URL=url,
            MONITOR_DATA_DIR=str(work / "data"),
            DJANGO_DEBUG="0",  # no query log
        )
        return run(args, sizes)


def run(args: argparse.Namespace, sizes: list[int]) -> int:
    import django

    django.setup()
    from django.core.management import call_command
    from django.utils import timezone
    from load_benchmark import setup_database  # this script's own directory

    from media_pipeline import services as media_services
    from media_pipeline.services import AudioItem
    from monitor import services
    from monitor.models import PhoneDevice

    call_command("migrate", verbosity=0)
    phones = max(sizes)
    setup_database(phones, 0, 30)
    devices = list(PhoneDevice.objects.order_by("pk").values_list("pk", flat=True))
    rng = random.Random(7)
    seq = 0

    def batches(count: int) -> list[AudioItem]:
        """``count`` silent-room batches, one per phone per tick (as the phones of a process send)."""
        nonlocal seq
        out = []
        for i in range(count):
            if i % phones == 0:
                seq += 1
            out.append(
                AudioItem(
                    device_id=devices[i % phones],
                    seq=seq,
                    interval_ms=100,
                    levels=[-60.0 + rng.random() * 4 for _ in range(10)],
                    started_at=timezone.now(),
                )
            )
        return out

    def group_commit(size: int) -> float:
        items = batches(args.batches)
        flushes = [items[i : i + size] for i in range(0, len(items), size)]
        start = time.process_time()
        for flush in flushes:
            services.phone_traffic_record(audio=flush, seen_device_ids={b.device_id for b in flush[::4]})
        return (time.process_time() - start) * 1000 / len(items)

    def one_by_one() -> float:
        items = batches(min(args.batches, 500))
        start = time.process_time()
        for b in items:
            media_services.audio_ingest(
                device_id=b.device_id,
                seq=b.seq,
                interval_ms=b.interval_ms,
                levels=b.levels,
                started_at=b.started_at,
            )
            services.devices_seen(device_ids={b.device_id})
        return (time.process_time() - start) * 1000 / len(items)

    results: dict[str, list[float]] = {"one by one": []}
    results.update({f"flush of {s}": [] for s in sizes})
    for _ in range(args.rounds):
        results["one by one"].append(one_by_one())
        for s in sizes:
            results[f"flush of {s}"].append(group_commit(s))

    baseline = statistics.median(results["one by one"])
    print(f"\n{args.database}, {phones} phones, {args.rounds} rounds (median; process CPU)")
    print("| write | CPU ms per audio batch | vs one by one |")
    print("|---|---|---|")
    for name, values in results.items():
        ms = statistics.median(values)
        print(f"| {name} | {ms:.3f} | {baseline / ms:.1f}× |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
