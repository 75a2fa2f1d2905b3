#!/usr/bin/env bash
# The load test (README, "Load test"): starts the test PostgreSQL on 127.0.0.1 if needed, then
# runs loadtests/run_load.py (demo council, gunicorn, locust personas, throughput ratio).
# Options go to run_load.py: --users 100 --seconds 90 --table results.md --keep ...
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/postgres
source ./scripts/postgres
start_postgres
exec python3 loadtests/run_load.py --postgres-url "$TAPESTRY_POSTGRES_URL" "$@"
