"""`orc get`: desired objects joined with the observed snapshot, kubectl's tables and names, documents with
resourceVersion and status, the snapshot's age on stderr, and `-w` following changes of other processes."""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import yaml
from click.shell_completion import ShellComplete

from orchestrator.cli.main import cli
from orchestrator.cli.observed import ObservedHost, ObservedPod, Snapshot, read_snapshot, write_snapshot
from orchestrator.cli.printers import human_age
from orchestrator.errors import StoreError
from orchestrator.store import Store, keys
from tests.unit.cli_support import as_foreground_job, init_project, orc

pytestmark = pytest.mark.timeout(30)

POD = """\
apiVersion: v1
kind: Pod
metadata: {name: solo, labels: {app: solo}}
spec:
  containers: [{name: a, image: local/busybox:1}, {name: b, image: local/busybox:1}]
"""
DEPLOY = """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: api, labels: {app: api}}
spec:
  replicas: 3
  selector: {matchLabels: {app: api}}
  template:
    metadata: {labels: {app: api}}
    spec:
      containers: [{name: api, image: local/busybox:1}]
"""


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    return init_project(tmp_path, monkeypatch, apply_examples=True)


def observe(store: Store, age: float = 5.0) -> Snapshot:
    now = time.time()
    snap = Snapshot(
        taken_at=now - age,
        hosts=(
            ObservedHost("lab1", "Ready", "10.99.0.11", {"rack": "r1"}, {"cpu": "2", "memory": "4Gi"}),
            ObservedHost("lab2", "Unreachable", "10.99.0.12", reason="timeout"),
        ),
        pods=(
            ObservedPod(
                "web-aaaaa",
                "u1",
                "lab1",
                "rc/web",
                "Running",
                True,
                "1/1",
                0,
                now - 3600,
                "172.18.0.2",
                {"app": "web"},
                {"80/tcp": 32768},
            ),
            ObservedPod(
                "web-bbbbb", "u2", "lab2", "rc/web", "Lost", False, "0/1", 2, now - 7200, None, {"app": "web"}
            ),
            ObservedPod(
                "web-ccccc",
                "u3",
                "lab1",
                "rc/web",
                "Running",
                False,
                "0/1",
                1,
                now - 30,
                "172.18.0.3",
                {"app": "web", "canary": "yes"},
            ),
        ),
    )
    write_snapshot(store, snap)
    return snap


def rows(text: str) -> list[list[str]]:
    return [line.split() for line in text.splitlines()]


def test_pods_are_observed_pods_plus_desired_pods_not_placed_yet(project: Path, store: Store) -> None:
    observe(store)
    assert orc("apply", "-f", "-", input=POD).exit_code == 0
    result = orc("get", "pods")
    assert result.exit_code == 0, result.output
    assert rows(result.stdout) == [
        ["NAME", "READY", "STATUS", "RESTARTS", "AGE"],
        ["solo", "0/2", "Pending", "0", "0s"],
        ["web-aaaaa", "1/1", "Running", "0", "60m"],
        ["web-bbbbb", "0/1", "Lost", "2", "120m"],
        ["web-ccccc", "0/1", "Running", "1", "30s"],
    ]
    assert result.stderr == ""  # a fresh snapshot: no note

    wide = rows(orc("get", "po", "-o", "wide", "-l", "app=web,!canary").stdout)
    assert wide == [
        ["NAME", "READY", "STATUS", "RESTARTS", "AGE", "IP", "NODE"],
        ["web-aaaaa", "1/1", "Running", "0", "60m", "172.18.0.2", "lab1"],
        ["web-bbbbb", "0/1", "Lost", "2", "120m", "<none>", "lab2"],
    ]


def test_replica_counts_come_from_observed_pods(project: Path, store: Store) -> None:
    observe(store)
    assert rows(orc("get", "rc").stdout) == [
        ["NAME", "DESIRED", "CURRENT", "READY", "AGE"],
        ["web", "2", "2", "1", "0s"],  # the Lost pod does not count; one of two running is ready
    ]
    wide = rows(orc("get", "replicationcontrollers", "-o", "wide").stdout)
    assert wide[0][-3:] == ["CONTAINERS", "IMAGES", "SELECTOR"]
    assert wide[1][-3:] == ["httpd", "local/busybox:1", "app=web"]


def test_snapshot_age_and_absence_are_said_on_stderr(project: Path, store: Store) -> None:
    result = orc("get", "pods")
    assert "no cluster snapshot yet" in result.stderr and "orc reconcile" in result.stderr
    assert result.stderr.count("snapshot") == 1  # said once
    assert "No resources found" in result.stderr
    observe(store, age=200)
    result = orc("get", "rc")
    assert "(observed 3m20s ago; run `orc reconcile` to refresh)" in result.stderr
    assert orc("get", "svc").stderr == ""  # services show no observed state


def test_yaml_of_one_object_has_resource_version_and_status(project: Path, store: Store) -> None:
    observe(store)
    doc = yaml.safe_load(orc("get", "rc", "web", "-o", "yaml").stdout)
    assert doc["kind"] == "ReplicationController"
    assert doc["metadata"]["resourceVersion"] == str(store.get("rc/web").revision)
    assert isinstance(doc["metadata"]["creationTimestamp"], str)
    assert doc["status"] == {"replicas": 2, "fullyLabeledReplicas": 2, "readyReplicas": 1, "availableReplicas": 1}
    assert doc["spec"] == store.get("rc/web").value["spec"]

    pod = yaml.safe_load(orc("get", "pod/web-aaaaa", "-o", "json").stdout)
    assert pod["metadata"]["ownerReferences"][0]["name"] == "web"
    assert pod["spec"]["nodeName"] == "lab1"
    assert pod["status"]["phase"] == "Running" and pod["status"]["podIP"] == "172.18.0.2"
    assert pod["status"]["hostIP"] == "10.99.0.11"

    many = yaml.safe_load(orc("get", "rc,svc", "-o", "yaml").stdout)
    assert many["kind"] == "List" and [i["kind"] for i in many["items"]] == [
        "ReplicationController",
        "Service",
    ]
    assert many["metadata"]["resourceVersion"] == str(store.revision())


def test_names_and_kinds(project: Path, store: Store) -> None:
    assert orc("apply", "-f", "-", input=DEPLOY).exit_code == 0
    assert orc("get", "all", "-o", "name").stdout.splitlines() == [
        "replicationcontroller/web",
        "deployment.apps/api",
        "service/web",
    ]
    assert rows(orc("get", "rc").stdout)[1:] == [["web", "2", "0", "0", "0s"]]  # kinds are not mixed
    assert rows(orc("get", "deploy").stdout)[1][:2] == ["api", "3"]
    # each kind its own: `rc api` is not the Deployment api
    wrong = orc("get", "rc", "api")
    assert wrong.exit_code == 1 and wrong.stdout == ""
    assert 'Error from server (NotFound): replicationcontrollers "api" not found' in wrong.stderr
    assert rows(orc("get", "deploy", "api").stdout)[1][0] == "api"
    result = orc("get", "pods", "nope")
    assert result.exit_code == 1
    assert 'Error from server (NotFound): pods "nope" not found' in result.stderr
    bad = orc("get", "widgets")
    assert bad.exit_code == 2 and 'doesn\'t have a resource type "widgets"' in bad.output


def test_services_show_allocations_and_endpoints_when_known(project: Path, store: Store) -> None:
    # `orc apply` allocated both, before any pass
    assert rows(orc("get", "svc").stdout)[1] == ["web", "NodePort", "10.233.0.2", "<none>", "80:30000/TCP", "0s"]
    assert "No resources found" in orc("get", "ep").stderr
    store.delete(keys.cluster_ip_key("10.233.0.2"))
    store.delete(keys.node_port_key(30000))
    store.put(keys.cluster_ip_key("10.233.0.10"), {"service": "web"})
    store.put(keys.node_port_key(30080), {"service": "web"})
    store.put(
        "_meta/endpoints/web",
        {
            "subsets": [
                {"addresses": [{"ip": "10.99.0.11"}, {"ip": "10.99.0.13"}], "ports": [{"port": 32768}]}
            ]
        },
    )
    assert rows(orc("get", "svc", "-o", "wide").stdout)[1] == [
        "web",
        "NodePort",
        "10.233.0.10",
        "<none>",
        "80:30080/TCP",
        "0s",
        "app=web",
    ]
    assert rows(orc("get", "endpoints").stdout) == [
        ["NAME", "ENDPOINTS", "AGE"],
        ["web", "10.99.0.11:32768,10.99.0.13:32768", "0s"],
    ]


def test_nodes_come_from_the_snapshot(project: Path, store: Store) -> None:
    observe(store)
    assert rows(orc("get", "nodes").stdout) == [
        ["NAME", "STATUS", "ADDRESS", "PODS", "REASON"],
        ["lab1", "Ready", "10.99.0.11", "2", "<none>"],
        ["lab2", "Unreachable", "10.99.0.12", "1", "timeout"],
    ]
    node = yaml.safe_load(orc("get", "hosts", "lab2", "-o", "yaml").stdout)
    assert node["status"]["conditions"] == [{"type": "Ready", "status": "Unknown", "reason": "timeout"}]


class Lines:
    """A subprocess's stdout read line by line on a thread, so the test can wait with a deadline."""

    def __init__(self, proc: subprocess.Popen[str]):
        self.q: queue.Queue[str] = queue.Queue()
        self.seen: list[str] = []
        threading.Thread(target=self._read, args=(proc,), daemon=True).start()

    def _read(self, proc: subprocess.Popen[str]) -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            self.q.put(line.rstrip("\n"))

    def wait_for(self, text: str, timeout: float = 10.0) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self.q.get(timeout=0.1)
            except queue.Empty:
                continue
            self.seen.append(line)
            if text in line:
                return line
        raise AssertionError(f"{text!r} not printed within {timeout}s; got {self.seen}")


def test_watch_prints_changes_made_by_another_process(project: Path, store: Store) -> None:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "orchestrator.cli.main", "get", "pods", "-w"],
        cwd=project,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        preexec_fn=as_foreground_job,
    )
    try:
        lines = Lines(proc)
        # the initial listing has no pods: the watch starts after the note on stderr; wait for it to run
        time.sleep(0.8)
        (project / "solo.yaml").write_text(POD)
        subprocess.run(
            [sys.executable, "-m", "orchestrator.cli.main", "apply", "-f", "solo.yaml"],
            cwd=project,
            check=True,
            capture_output=True,
        )
        assert lines.wait_for("solo").split() == ["solo", "0/2", "Pending", "0", "0s"]
        observe(store)  # the reconcile engine stores a snapshot
        assert lines.wait_for("web-aaaaa").split()[:3] == ["web-aaaaa", "1/1", "Running"]
        store.delete("pod/solo")
        assert lines.wait_for("(deleted)").split()[0] == "solo"
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=10) == 0  # Ctrl-C ends it quietly
        assert "Traceback" not in (proc.stderr.read() if proc.stderr else "")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_get_events_watch_streams_events_a_pass_records(project: Path, store: Store) -> None:
    """`orc get events -w` follows the store: an event a reconcile pass records (here through the same
    `record` the engine calls) is printed as it is written, and its repeat (count 2) again."""
    from orchestrator.act.cluster_events import ClusterEvent, record

    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "orchestrator.cli.main", "get", "events", "-w"],
        cwd=project, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
        preexec_fn=as_foreground_job,
    )
    try:
        lines = Lines(proc)
        time.sleep(0.8)  # the watch starts after its (empty) listing
        lost = ClusterEvent("node/lab2", "Warning", "HostLost", "lab2 is down: its pods are replaced")
        now = time.time()
        assert record(store, [lost], now) == 1
        line = lines.wait_for("HostLost")
        assert "node/lab2" in line and "Warning" in line and "its pods are replaced" in line
        assert record(store, [lost], now + 61) == 1  # counted again (written at most once a minute)
        assert "node/lab2" in lines.wait_for("HostLost")  # the repeat is a change: printed again
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=10) == 0
        assert "Traceback" not in (proc.stderr.read() if proc.stderr else "")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (None, "<unknown>"),
        (0, "0s"),
        (119, "119s"),
        (120, "2m"),
        (330, "5m30s"),
        (2520, "42m"),
        (3 * 3600 + 12 * 60, "3h12m"),
        (30 * 3600, "30h"),
        (4 * 86400 + 5 * 3600, "4d5h"),
        (120 * 86400, "120d"),
        (3 * 365 * 86400, "3y"),
    ],
)
def test_human_age_as_kubectl(seconds: float | None, text: str) -> None:
    assert human_age(seconds) == text


def test_snapshot_round_trips_and_malformed_entries_are_named(project: Path, store: Store) -> None:
    snap = observe(store)
    assert read_snapshot(store) == snap
    assert snap.pods_of("rc/web")[0].name == "web-aaaaa" and snap.host("lab2").reason == "timeout"
    store.put(keys.SNAPSHOT, {"taken_at": 1.0, "pods": [{"name": "p", "restarts": "many"}]})
    with pytest.raises(StoreError, match=r"pods\[0\]\.restarts: expected int"):
        read_snapshot(store)


def test_completion_scripts_and_names_from_the_store(project: Path, store: Store) -> None:
    for shell in ("bash", "zsh", "fish"):
        result = orc("completion", shell)
        assert result.exit_code == 0 and "_ORC_COMPLETE" in result.stdout
    assert 'eval "$(orc completion bash)"' in orc("completion", "--help").stdout

    def complete(args: list[str], incomplete: str) -> list[str]:
        return [
            c.value for c in ShellComplete(cli, {}, "orc", "_ORC_COMPLETE").get_completions(args, incomplete)
        ]

    assert complete(["get"], "r") == [
        "rc",
        "replicaset",
        "replicasets",
        "replicationcontroller",
        "replicationcontrollers",
        "rs",
    ]
    assert complete(["describe", "rc"], "") == ["web"]
    assert complete(["delete"], "svc/w") == ["svc/web"]
    observe(store)
    assert complete(["get", "pods"], "web-a") == ["web-aaaaa"]


def test_the_engines_snapshot_reads_through_the_accessor(project: Path, store: Store) -> None:
    """The contract with the reconcile engine: what ClusterSnapshot.to_dict() stores, `orc get` reads."""
    from orchestrator.observe.snapshot import ClusterSnapshot
    from tests.unit.plan_fixtures import T0, desired, host, rc_doc, running_pod, unreachable

    run, containers = running_pod(desired(rc_doc("web", 2)), "rc/web", "h1")
    snapshot = ClusterSnapshot.build([host("h1", containers=containers), unreachable("h2")], T0, cluster="c1")
    store.put(keys.SNAPSHOT, json.loads(json.dumps(snapshot.to_dict(), default=str)))
    snap = read_snapshot(store)
    assert snap is not None
    assert [(h.name, h.status) for h in snap.hosts] == [("h1", "Ready"), ("h2", "Unreachable")]
    assert [(p.name, p.owner, p.phase, p.ready) for p in snap.pods] == [(run.name, "rc/web", "Running", True)]
    assert rows(orc("get", "pods", "-o", "wide").stdout)[1][:3] == [run.name, "1/1", "Running"]
