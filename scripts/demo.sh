#!/usr/bin/env bash
# `make demo`: the whole product live — broker, store, the daemon with its dashboard, four days
# of history, then a flowing stream in which the planted Acme story breaks and the alert fires.
# The orchestration is pipeline/demo.py; this script only sets the demo's environment.
#   make demo                    runs until Ctrl-C
#   make demo DEMO_SECONDS=240   ends by itself: exit 0 once the alert fired, 1 at the timeout
set -euo pipefail
cd "$(dirname "$0")/.."
export FINSENTRY_TAGGING__WATCHLIST="${FINSENTRY_TAGGING__WATCHLIST:-models/watchlist.example.toml}"
# The bundled sample is built from about a hundred headline templates (scripts/make_sample.py),
# so most of its 3,000 articles are copies of a few hundred "stories": the demo's detector
# counts articles. On a real feed keep the default, alerts.count = "stories".
export FINSENTRY_ALERTS__COUNT="${FINSENTRY_ALERTS__COUNT:-articles}"
exec .venv/bin/python -m pipeline.demo --seconds "${DEMO_SECONDS:-0}"
