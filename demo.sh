#!/usr/bin/env bash
# Set up everything, bring up the local lab cluster (3 hosts), deploy the example app (an RC of 3 web pods
# behind a NodePort service) and show it answering through the service.
set -euo pipefail
cd "$(dirname "$0")"
scripts/setup.sh
orc=.venv/bin/orc
$orc lab up
$orc hosts
$orc apply -f examples/web-rc.yaml -f examples/web-svc.yaml
$orc reconcile --wait 120
$orc get pods -o wide
$orc get svc,ep
echo
echo "The web service through node port 30080 of each host (each pod answers with its name):"
for host in 10.99.0.11 10.99.0.12 10.99.0.13; do
  for _ in 1 2 3; do
    printf '  http://%s:30080/ -> %s\n' "$host" \
      "$(.venv/bin/python -c 'import sys, urllib.request; print(urllib.request.urlopen(sys.argv[1], timeout=5).read().decode().strip())' "http://$host:30080/")"
  done
done
