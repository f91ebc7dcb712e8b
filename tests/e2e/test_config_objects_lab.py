"""ConfigMaps and Secrets on the real lab: a pod takes them by envFrom, key refs and both volume kinds (one
file by subPath), and every value arrives byte-exact in the running container; a changed ConfigMap changes
the mounted files in place without a restart (the subPath file keeps its version, as in Kubernetes); a pod
whose ConfigMap is missing shows CreateContainerConfigError and starts once the ConfigMap is applied."""

from __future__ import annotations

import base64
import json
import time
from pathlib import Path

import pytest

from orchestrator.lab import daemons
from tests.e2e.conftest import lab_pods
from tests.e2e.helpers import orc

pytestmark = pytest.mark.e2e

BLOB = b"\x00\x01\r\n\xfe\xff"
PASSWORD = "p@ss w0rd $HOME `x` \"q\" 'a' \\ end"
MULTI = "l1\r\nl2\n"


def objects(mode: str, conf: str) -> str:
    return "\n---\n".join([
        json.dumps({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "app"},
                    "data": {"mode": mode, "app.conf": conf}, "binaryData": {"blob": base64.b64encode(BLOB).decode()}}),
        json.dumps({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "db"},
                    "stringData": {"password": PASSWORD, "multi": MULTI}}),
    ])


USER = """\
apiVersion: v1
kind: Pod
metadata: {name: cfg-user}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: app
    image: local/busybox:1
    command: [sleep, "100000"]
    envFrom: [{secretRef: {name: db}, prefix: DB_}]
    env:
    - {name: MODE, valueFrom: {configMapKeyRef: {name: app, key: mode}}}
    - {name: PW, valueFrom: {secretKeyRef: {name: db, key: password}}}
    volumeMounts:
    - {name: conf, mountPath: /etc/app}
    - {name: conf, mountPath: /etc/mode.txt, subPath: mode}
    - {name: sec, mountPath: /run/secret}
  volumes:
  - {name: conf, configMap: {name: app}}
  - {name: sec, secret: {secretName: db, defaultMode: 0400, items: [{key: password, path: pw/password}]}}
"""

WAITER = """\
apiVersion: v1
kind: Pod
metadata: {name: cfg-waiter}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: app
    image: local/busybox:1
    command: [sleep, "100000"]
    envFrom: [{configMapRef: {name: later}}]
"""


def where(lab, pod: str) -> object:  # type: ignore[no-untyped-def]
    host = next(n for n, pods in lab_pods(lab).items() if pod in pods)
    return next(h for h in lab.spec.lab_hosts() if h.name == host)


def in_container(h, pod: str, *argv: str) -> bytes:  # type: ignore[no-untyped-def]
    cp = daemons.docker(h, "exec", f"orc_{pod}_app", *argv, check=False)
    assert cp.returncode == 0, cp.stderr
    return cp.stdout


def test_config_maps_and_secrets_reach_a_pod_byte_exact_and_update_in_place(lab, project: Path) -> None:  # type: ignore[no-untyped-def]
    (project / "objects.yaml").write_text(objects("fast", "a=1\nb=2\n"))
    (project / "user.yaml").write_text(USER)
    cp = orc("apply", "-f", "objects.yaml", "-f", "user.yaml", cwd=project)
    assert cp.returncode == 0, cp.stderr
    cp = orc("reconcile", cwd=project)
    assert cp.returncode == 0, cp.stdout + cp.stderr
    assert PASSWORD not in cp.stdout + cp.stderr and "czNj" not in cp.stdout
    h = where(lab, "cfg-user")
    env = lambda name: in_container(h, "cfg-user", "sh", "-c", f'printf %s "${name}"')  # noqa: E731
    assert env("PW") == PASSWORD.encode() and env("DB_password") == PASSWORD.encode()
    assert env("DB_multi") == MULTI.encode() and env("MODE") == b"fast"
    assert in_container(h, "cfg-user", "cat", "/etc/app/app.conf") == b"a=1\nb=2\n"
    assert in_container(h, "cfg-user", "cat", "/etc/app/blob") == BLOB
    assert in_container(h, "cfg-user", "cat", "/etc/mode.txt") == b"fast"
    assert in_container(h, "cfg-user", "cat", "/run/secret/pw/password") == PASSWORD.encode()
    assert in_container(h, "cfg-user", "readlink", "/etc/app/..data").startswith(b"..20")
    assert in_container(h, "cfg-user", "stat", "-L", "-c", "%a", "/run/secret/pw/password").strip() == b"400"
    started = daemons.docker(h, "inspect", "-f", "{{.State.StartedAt}}", "orc_cfg-user_app").stdout

    (project / "objects.yaml").write_text(objects("slow", "a=9\n"))
    assert orc("apply", "-f", "objects.yaml", cwd=project).stdout.splitlines() == [
        "configmap/app configured", "secret/db unchanged"]
    cp = orc("reconcile", cwd=project)
    assert cp.returncode == 0, cp.stdout + cp.stderr
    deadline = time.monotonic() + 10
    while in_container(h, "cfg-user", "cat", "/etc/app/mode") != b"slow" and time.monotonic() < deadline:
        time.sleep(0.2)
    assert in_container(h, "cfg-user", "cat", "/etc/app/mode") == b"slow"
    assert in_container(h, "cfg-user", "cat", "/etc/app/app.conf") == b"a=9\n"
    assert in_container(h, "cfg-user", "cat", "/etc/mode.txt") == b"fast"  # a subPath mount keeps its file
    assert env("MODE") == b"fast"  # env is fixed when the container starts, as in Kubernetes
    assert daemons.docker(h, "inspect", "-f", "{{.State.StartedAt}}", "orc_cfg-user_app").stdout == started
    assert where(lab, "cfg-user") == h  # the same pod: not replaced
    cp = orc("reconcile", cwd=project)
    assert cp.returncode == 0 and "update" not in cp.stdout, cp.stdout  # converged: nothing more to write


def test_a_pod_whose_config_map_is_missing_waits_then_starts_once_it_is_applied(lab, project: Path) -> None:  # type: ignore[no-untyped-def]
    (project / "waiter.yaml").write_text(WAITER)
    assert orc("apply", "-f", "waiter.yaml", cwd=project).returncode == 0
    cp = orc("reconcile", cwd=project)
    assert cp.returncode == 5 and 'CreateContainerConfigError: configmap "later" not found' in cp.stdout + cp.stderr
    assert not any("cfg-waiter" in pods for pods in lab_pods(lab).values())
    cp = orc("get", "pods", "cfg-waiter", cwd=project)
    assert "CreateContainerConfigError" in cp.stdout, cp.stdout + cp.stderr
    doc = json.loads(orc("get", "pod", "cfg-waiter", "-o", "json", cwd=project).stdout)
    waiting = doc["status"]["containerStatuses"][0]["state"]["waiting"]
    assert waiting == {"reason": "CreateContainerConfigError", "message": 'configmap "later" not found'}
    events = orc("get", "events", cwd=project).stdout
    assert 'configmap "later" not found' in events, events

    (project / "later.yaml").write_text(json.dumps({"apiVersion": "v1", "kind": "ConfigMap",
                                                    "metadata": {"name": "later"}, "data": {"GREETING": "hi"}}))
    assert orc("apply", "-f", "later.yaml", cwd=project).returncode == 0
    cp = orc("reconcile", cwd=project)
    assert cp.returncode == 0, cp.stdout + cp.stderr
    h = where(lab, "cfg-waiter")
    assert in_container(h, "cfg-waiter", "sh", "-c", 'printf %s "$GREETING"') == b"hi"
    assert daemons.docker(h, "inspect", "-f", "{{.State.Running}}", "orc_cfg-waiter_app").stdout.strip() == b"true"
    assert "CreateContainerConfigError" not in orc("get", "pods", "cfg-waiter", cwd=project).stdout
