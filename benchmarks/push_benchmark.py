"""Live pushes from synchronous code with no event loop (what a Celery task does after an analysis):
``async_to_sync`` per push (a new thread, event loop and Redis connection each time) against one event
loop per process (monitor.broadcast.use_own_loop), in the same run, on the Redis pub/sub channel layer.

    .venv/bin/python benchmarks/push_benchmark.py [--pushes 500] [--redis-url redis://127.0.0.1:6379/0]

Prints wall and CPU time per push and the Redis connections each way opened; not a test.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pushes", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    args = parser.parse_args()
    if args.pushes < 1 or args.rounds < 1:
        parser.error("--pushes and --rounds must be ≥ 1")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.embedded")
    import django

    django.setup()
    import redis
    from django.test.utils import override_settings

    from monitor import broadcast

    layers = {
        "default": {
            "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
            "CONFIG": {"hosts": [{"address": args.redis_url}]},
        }
    }
    server = redis.Redis.from_url(args.redis_url)

    def run(own_loop: bool) -> tuple[float, float, int]:
        broadcast._own_loop_wanted = own_loop
        before = int(server.info("stats")["total_connections_received"])
        wall, cpu = time.perf_counter(), time.process_time()
        for n in range(args.pushes):
            broadcast.push("push-benchmark", {"type": "benchmark", "n": n})
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        opened = int(server.info("stats")["total_connections_received"]) - before  # `server` keeps its one
        return wall * 1000 / args.pushes, cpu * 1000 / args.pushes, opened

    results: dict[str, list[tuple[float, float, int]]] = {
        "async_to_sync per push": [],
        "one loop per process": [],
    }
    with override_settings(CHANNEL_LAYERS=layers):
        for _ in range(args.rounds):
            results["async_to_sync per push"].append(run(own_loop=False))
            results["one loop per process"].append(run(own_loop=True))
    print(f"\n{args.pushes} pushes × {args.rounds} rounds, Redis pub/sub layer (median of the rounds)")
    print("| push from sync code | wall ms per push | CPU ms per push | Redis connections opened per round |")
    print("|---|---|---|---|")
    for name, rows in results.items():
        walls, cpus, opened = zip(*rows, strict=True)
        wall, cpu = sorted(walls)[len(walls) // 2], sorted(cpus)[len(cpus) // 2]
        print(f"| {name} | {wall:.3f} | {cpu:.3f} | {max(opened)} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
