#!/usr/bin/env bash
# THE test command: installs what the tests need, then runs the whole suite in both profiles,
# starting the services it needs (see tests/harness.py). Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/system_deps.sh
bash scripts/services.sh
bash scripts/bootstrap.sh dev
exec .venv/bin/python -m tests.harness "$@"
