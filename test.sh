#!/usr/bin/env bash
# Set up everything and run the whole test suite (unit, integration, and end-to-end on a lab cluster of
# its own, which the tests bring up and take down). Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")"
scripts/setup.sh
.venv/bin/ruff check orchestrator tests bench
.venv/bin/python -m mypy orchestrator
exec .venv/bin/python -m pytest "$@"
