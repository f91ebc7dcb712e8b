#!/usr/bin/env bash
# Set up everything, bring up the local lab cluster (3 hosts) and show what orc sees of it.
set -euo pipefail
cd "$(dirname "$0")"
scripts/setup.sh
.venv/bin/orc lab up
.venv/bin/orc hosts
