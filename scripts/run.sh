#!/usr/bin/env bash
# THE run command: installs, migrates, loads demo data and serves the product on the embedded
# default (SQLite, in-memory channel layer, in-process tasks, local files, fake WeChat), then
# starts the live demo. Ctrl-C stops everything.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh runtime
export DJANGO_SETTINGS_MODULE=config.settings.embedded
exec .venv/bin/python scripts/demo.py "$@"
