#!/usr/bin/env bash
# Set up everything and run the whole test suite (unit, integration, and end-to-end on a lab cluster of
# its own, which the tests bring up and take down). Extra arguments go to pytest (`-n 0`: one process).
# Three pytest-xdist workers: the e2e files in two groups of about equal time, each group on a worker with
# a lab of its own (tests/e2e/conftest.py), the unit and integration tests spread over all three.
set -euo pipefail
cd "$(dirname "$0")"
scripts/setup.sh
.venv/bin/ruff check orchestrator tests bench
.venv/bin/python -m mypy orchestrator
exec .venv/bin/python -m pytest -n 3 --dist loadgroup "$@"
