"""Real manifests on the lab: Kubernetes' Downward API example (fieldRef env, tests/fixtures/k8s-examples,
its image substituted by the lab's) gives the container its pod's name, namespace, node and IP; a
securityContext is honoured by docker (user, read-only root, runAsNonRoot refused for a root image)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from tests.e2e.helpers import orc

pytestmark = pytest.mark.e2e

CORPUS = Path(__file__).resolve().parents[1] / "fixtures" / "k8s-examples"

SECURE = """\
apiVersion: v1
kind: Pod
metadata: {name: secure}
spec:
  terminationGracePeriodSeconds: 0
  securityContext: {runAsUser: 1000, runAsGroup: 3000, supplementalGroups: [4000]}
  containers:
  - name: main
    image: local/busybox:1
    command: [sleep, "3600"]
    securityContext:
      readOnlyRootFilesystem: true
      allowPrivilegeEscalation: false
      capabilities: {drop: [ALL]}
"""

ROOT_IMAGE = """\
apiVersion: v1
kind: Pod
metadata: {name: rooted}
spec:
  securityContext: {runAsNonRoot: true}
  containers:
  - {name: main, image: local/busybox:1, command: [sleep, "3600"]}
"""


def exec_(project: Path, pod: str, *cmd: str) -> str:
    cp = orc("exec", pod, "--", *cmd, cwd=project)
    assert cp.returncode == 0, cp.stderr
    return cp.stdout


def wait_running(project: Path, name: str, timeout: float = 40) -> dict:
    deadline = time.monotonic() + timeout
    doc: dict = {}
    while time.monotonic() < deadline:
        orc("reconcile", cwd=project)
        cp = orc("get", "pod", name, "-o", "json", cwd=project)
        doc = json.loads(cp.stdout) if cp.returncode == 0 else {}
        if doc.get("status", {}).get("phase") == "Running":
            return doc
        time.sleep(0.5)
    raise AssertionError(f"pod {name} not running: {doc.get('status')}")


def test_the_downward_api_example_gives_the_container_its_pods_fields(lab, project: Path) -> None:
    text = (CORPUS / "pods" / "inject" / "dapi-envars-pod.yaml").read_text()
    (project / "dapi.yaml").write_text(text.replace("registry.k8s.io/busybox:1.27.2", "local/busybox:1"))
    assert orc("apply", "-f", "dapi.yaml", cwd=project).returncode == 0
    doc = wait_running(project, "dapi-envars-fieldref")
    env = dict(line.split("=", 1) for line in exec_(project, "dapi-envars-fieldref", "env").splitlines() if "=" in line)
    assert env["MY_POD_NAME"] == "dapi-envars-fieldref" and env["MY_POD_NAMESPACE"] == "default"
    assert env["MY_NODE_NAME"] == doc["spec"]["nodeName"]
    assert env["MY_POD_SERVICE_ACCOUNT"] == "default"
    assert env["MY_POD_IP"] and env["MY_POD_IP"] == doc["status"]["podIP"]
    # ... and it is the address the pod really has: its network namespace's
    assert env["MY_POD_IP"] in exec_(project, "dapi-envars-fieldref", "ip", "-4", "addr")


def test_a_security_context_is_honoured_by_docker(lab, project: Path) -> None:
    (project / "secure.yaml").write_text(SECURE)
    assert orc("apply", "-f", "secure.yaml", cwd=project).returncode == 0
    wait_running(project, "secure")
    ids = exec_(project, "secure", "id")
    assert "uid=1000" in ids and "gid=3000" in ids and "4000" in ids
    denied = orc("exec", "secure", "--", "touch", "/written", cwd=project)
    assert denied.returncode != 0 and "Read-only file system" in denied.stderr + denied.stdout
    status = exec_(project, "secure", "cat", "/proc/self/status")
    caps = next(line.split()[1] for line in status.splitlines() if line.startswith("CapEff:"))
    assert int(caps, 16) == 0  # every capability dropped
    assert next(line.split()[1] for line in status.splitlines() if line.startswith("NoNewPrivs:")) == "1"


def test_run_as_non_root_refuses_an_image_that_runs_as_root(lab, project: Path) -> None:
    (project / "rooted.yaml").write_text(ROOT_IMAGE)
    assert orc("apply", "-f", "rooted.yaml", cwd=project).returncode == 0
    cp = orc("reconcile", cwd=project)
    assert cp.returncode == 1
    assert "has runAsNonRoot and image local/busybox:1 will run as root" in cp.stderr
