"""The whole test suite, in two passes (`make test` calls this; `.ci/run` calls `make test`).

1. Embedded profile: every test (`config.settings.test`: SQLite, in-memory layer, in-process tasks).
2. Production profile: the tests marked ``integration`` again, plus ``production_only`` ones, with
   ``config.settings.production`` against real services started here: a private Redis (channel
   layer + broker), the machine's PostgreSQL, SeaweedFS (S3 that verifies signatures). Tests start
   their own daphne servers and Celery worker processes through fixtures.

Extra arguments are passed to pytest in both passes (e.g. ``-k pairing``). ``--pass embedded`` or
``--pass production`` runs one pass only.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

from tests import services

ROOT = Path(__file__).resolve().parent.parent


def run_pytest(env: dict[str, str], args: list[str]) -> int:
    cmd = [sys.executable, "-m", "pytest", *args]
    print("$", " ".join(cmd), flush=True)
    code = subprocess.call(cmd, cwd=ROOT, env=env)
    return 0 if code == 5 else code  # 5 = "no tests collected" for a filtered pass


def production_env(log_dir: Path) -> tuple[dict[str, str], list[services.Process]]:
    started: list[services.Process] = []
    redis = services.start_redis(log_dir=log_dir)
    started.append(redis)
    s3 = services.start_seaweedfs(log_dir=log_dir)
    started.append(s3)
    pg_url = services.ensure_postgres()
    run_id = uuid.uuid4().hex[:8]
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.production",
        "DJANGO_SECRET_KEY": "test-" + uuid.uuid4().hex * 2,
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost,testserver",
        "CSRF_TRUSTED_ORIGINS": "http://127.0.0.1,http://localhost",
        "DJANGO_SECURE_SSL_REDIRECT": "0",
        "DJANGO_SECURE_COOKIES": "0",
        "DATABASE_URL": pg_url.rsplit("/", 1)[0] + "/postgres",
        "DATABASE_TEST_NAME": f"test_monitor_{run_id}",
        "REDIS_URL": redis.extra["url"],
        "CHANNEL_LAYER_PREFIX": f"asgi-{run_id}",
        "CELERY_QUEUE": f"monitor-{run_id}",
        "S3_ENDPOINT_URL": s3.extra["endpoint"],
        "S3_BUCKET": services.S3_BUCKET,
        "S3_ACCESS_KEY_ID": services.S3_ACCESS_KEY,
        "S3_SECRET_ACCESS_KEY": services.S3_SECRET_KEY,
        # SeaweedFS has no KMS; SSE is requested in production and verified where the server supports it.
        "S3_SERVER_SIDE_ENCRYPTION": "",
        "SNAPSHOT_SPOOL_DIR": str(log_dir / "spool"),
        "WECHAT_APP_ID": "wx-fake-appid",
        "WECHAT_APP_SECRET": "fake-secret",
        "WECHAT_API_BASE_URL": "http://127.0.0.1:1/",  # tests start their own fake WeChat server
        "ID_NUMBER_HASH_KEY": "test-id-hash-key",
        "FIELD_ENCRYPTION_KEY": "dGVzdC1maWVsZC1lbmNyeXB0aW9uLWtleS0zMmJ5dGU=",
        "EXPORT_SIGNING_KEY": "test-export-signing-key",
        "PUBLIC_BASE_URL": "http://127.0.0.1:8000",
        "MONITOR_DATA_DIR": str(log_dir / "data"),
    }
    print(
        f"production services: redis {redis.extra['url']} · postgres {env['DATABASE_URL']} "
        f"(test db {env['DATABASE_TEST_NAME']}) · SeaweedFS S3 {s3.extra['endpoint']} "
        f"bucket {services.S3_BUCKET} · Celery workers started per test on queue {env['CELERY_QUEUE']}",
        flush=True,
    )
    return env, started


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--pass", dest="which", choices=["embedded", "production", "both"], default="both")
    known, pytest_args = parser.parse_known_args()

    results: dict[str, int] = {}
    if known.which in ("embedded", "both"):
        env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.test"}
        print("\n=== pass 1: embedded profile (all tests) ===", flush=True)
        results["embedded"] = run_pytest(env, ["-m", "not production_only", *pytest_args])

    if known.which in ("production", "both"):
        print("\n=== pass 2: production profile (integration tests on real services) ===", flush=True)
        log_dir = Path(tempfile.mkdtemp(prefix="monitor-services-"))
        env, started = production_env(log_dir)
        try:
            results["production"] = run_pytest(
                env, ["-m", "integration or production_only", "-p", "no:cacheprovider", *pytest_args]
            )
        finally:
            for proc in reversed(started):
                proc.stop()

    print("\n=== summary ===")
    for name, code in results.items():
        print(f"{name}: {'passed' if code == 0 else f'FAILED (exit {code})'}")
    return 0 if all(code == 0 for code in results.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
