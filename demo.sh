#!/usr/bin/env bash
# Set up everything, bring up the local lab cluster (3 hosts), deploy the example app on it and show it.
set -euo pipefail
cd "$(dirname "$0")"
scripts/setup.sh
orc=.venv/bin/orc
$orc lab up
$orc hosts
$orc apply -f examples/web-rc.yaml -f examples/web-svc.yaml
$orc reconcile || test $? -eq 4
$orc get pods -o wide
