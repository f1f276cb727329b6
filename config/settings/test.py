"""The embedded profile as the test suite uses it."""

from __future__ import annotations

import os
import tempfile

# Tests never write into the developer's data folder.
os.environ.setdefault("MONITOR_DATA_DIR", tempfile.mkdtemp(prefix="monitor-test-data-"))

from .embedded import *  # noqa: E402,F403
from .embedded import DATABASES  # noqa: E402

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # fast; tests only
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    # A file, not :memory:, so a live server started by a test (daphne subprocess) sees the test
    # database; one per pytest process so parallel runs never share it.
    DATABASES["default"]["TEST"] = {
        "NAME": os.environ.get("DATABASE_TEST_NAME")
        or os.path.join(tempfile.gettempdir(), f"monitor-test-{os.getpid()}.sqlite3")
    }

# Unit tests run in-process tasks inline (after commit) so assertions see their effect; live
# servers started by tests use the embedded thread pool like `make run`.
TASKS_IN_PROCESS_SYNC = True
