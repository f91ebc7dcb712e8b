"""`orc logs` and `orc exec`: a pod's containers, wherever the pod runs (found in the last observed
snapshot), through the host's own docker over SSH. Each command lives in its own module (logs_cmd.py,
exec_cmd.py); the pods and containers they name are found by pod_target.py (pure) and pod_lookup.py, the
docker commands are built by pod_docker.py (pure)."""

from __future__ import annotations

from orchestrator.cli.exec_cmd import exec_
from orchestrator.cli.logs_cmd import logs

__all__ = ["exec_", "logs"]
