"""Objects as kubectl shows them: metadata Kubernetes adds, a Service's allocated addresses right after
apply, a Pod's status (conditions, containerStatuses, CrashLoopBackOff), controllers' status, Endpoints
subsets; and the loop's liveness restarts counted in restartCount."""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path

import pytest

from orchestrator.cli.documents import display_status, endpoint_subsets, qos_class
from orchestrator.cli.observed import ObservedContainer, ObservedHost, ObservedPod, Snapshot, write_snapshot
from orchestrator.cli.view import read_view
from orchestrator.controllers.book import next_restarts, with_restarts
from orchestrator.store import Store
from tests.unit.cli_support import init_project, orc

pytestmark = pytest.mark.timeout(30)


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    return init_project(tmp_path, monkeypatch, apply_examples=True)


def get_json(*args: str) -> dict:
    result = orc("get", *args, "-o", "json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_right_after_apply_a_service_has_its_cluster_ip_node_port_and_uid(project: Path) -> None:
    svc = get_json("svc", "web")
    assert svc["spec"]["clusterIP"] == "10.233.0.2" and svc["spec"]["clusterIPs"] == ["10.233.0.2"]
    assert svc["spec"]["ports"][0]["nodePort"] == 30000
    assert svc["spec"]["ports"][0]["protocol"] == "TCP" and svc["spec"]["sessionAffinity"] == "None"
    meta = svc["metadata"]
    assert meta["namespace"] == "default" and uuid.UUID(meta["uid"]) and meta["generation"] == int(meta["resourceVersion"])
    assert meta["creationTimestamp"].endswith("Z")
    assert svc["status"] == {"loadBalancer": {}}
    assert get_json("svc", "web")["metadata"]["uid"] == meta["uid"]  # stable

    rc = get_json("rc", "web")
    assert rc["status"] == {"replicas": 0}  # no pass yet: nothing observed, nothing claimed
    assert "observedGeneration" not in rc["status"]


def test_observed_generation_reaches_generation_once_a_pass_has_seen_the_change(project: Path, store: Store) -> None:
    assert orc("scale", "rc/web", "--replicas", "4").exit_code == 0
    rc = get_json("rc", "web")
    record = store.get("rc/web")
    assert record is not None and rc["metadata"]["generation"] == record.revision
    write_snapshot(store, Snapshot(time.time(), desired_revision=record.revision - 1))
    assert "observedGeneration" not in get_json("rc", "web")["status"]  # no pass has seen the scale yet
    write_snapshot(store, Snapshot(time.time(), desired_revision=record.revision + 3))
    status = get_json("rc", "web")["status"]
    assert status["observedGeneration"] == record.revision + 3 >= rc["metadata"]["generation"]


def crashing(now: float) -> Snapshot:
    host = ObservedHost("lab1", "Ready", "10.99.0.11", bind_address="10.99.0.21")
    app = ObservedContainer("httpd", "c0ffee", "local/busybox:1", "restarting", 1, now - 20, now - 5, 4)
    ok = ObservedContainer("httpd", "beef", "local/busybox:1", "running", 0, now - 60, None, 0, "healthy", "liveness")
    return Snapshot(now, hosts=(host,), pods=(
        ObservedPod("web-crash", "u-1", "lab1", "rc/web", "Pending", False, "0/1", 4, now - 100, "172.17.0.2",
                    {"app": "web"}, containers=(app,)),
        ObservedPod("web-fine", "u-2", "lab1", "rc/web", "Running", True, "1/1", 0, now - 100, "172.17.0.3",
                    {"app": "web"}, containers=(ok,)),
    ))


def test_a_rolling_controllers_status_counts_the_pods_its_last_pass_left(project: Path, store: Store) -> None:
    """The rollout status is planned before the pass acts; the snapshot after it holds the pods it created:
    replicas, updatedReplicas and readyReplicas are of those (a pass that created 2 pods says 2, not 0)."""
    planned = {"replicas": 0, "updatedReplicas": 0, "readyReplicas": 0, "availableReplicas": 0,
               "observedGeneration": 7, "mark": ["h1", 0, 0], "progressAt": 1.0,
               "conditions": [{"type": "Progressing", "status": "True", "reason": "ReplicaSetUpdated"}]}
    store.put("_meta/reconcile", {"rollouts": {"rc/web": planned}})
    now = time.time()
    write_snapshot(store, Snapshot(now, pods=(
        ObservedPod("web-a", "u1", "lab1", "rc/web", "Pending", False, "0/1", 0, now, spec_hash="h1"),
        ObservedPod("web-b", "u2", "lab2", "rc/web", "Running", True, "1/1", 0, now - 9, spec_hash="h1"),
        ObservedPod("web-c", "u3", "lab2", "rc/web", "Running", True, "1/1", 0, now - 99, spec_hash="h0"),
    )))
    status = get_json("rc", "web")["status"]
    assert (status["replicas"], status["updatedReplicas"], status["readyReplicas"]) == (3, 2, 2)
    assert status["availableReplicas"] == 0  # as planned (minReadySeconds), never more than ready
    assert status["observedGeneration"] == 7 and status["conditions"][0]["reason"] == "ReplicaSetUpdated"
    assert "mark" not in status and "progressAt" not in status
    table = orc("get", "rc", "web", "--no-headers").stdout.split()
    assert table[1:4] == ["2", "3", "2"]  # DESIRED CURRENT READY: the table and -o json agree


def test_a_container_that_keeps_exiting_is_crash_loop_back_off(project: Path, store: Store) -> None:
    write_snapshot(store, crashing(time.time()))
    table = [line.split() for line in orc("get", "pods", "-o", "wide").stdout.splitlines()]
    assert table[1][:4] == ["web-crash", "0/1", "CrashLoopBackOff", "4"]
    assert table[1][4:6] == ["(5s", "ago)"]  # when the last restart was, as kubectl prints it
    assert table[1][-2:] == ["172.17.0.2", "lab1"]
    assert table[2][:4] == ["web-fine", "1/1", "Running", "0"]

    pod = get_json("pod", "web-crash")
    status = pod["status"]
    assert pod["spec"]["nodeName"] == "lab1" and pod["metadata"]["ownerReferences"][0]["kind"] == "ReplicationController"
    assert pod["metadata"]["ownerReferences"][0]["uid"] == get_json("rc", "web")["metadata"]["uid"]
    assert status["phase"] == "Running"  # being restarted: Kubernetes' phase, the reason is in the container
    assert status["hostIP"] == "10.99.0.21" and status["podIP"] == "172.17.0.2"
    (cs,) = status["containerStatuses"]
    assert cs["name"] == "httpd" and cs["restartCount"] == 4 and cs["ready"] is False
    assert cs["state"]["waiting"]["reason"] == "CrashLoopBackOff"
    assert cs["lastState"]["terminated"]["exitCode"] == 1 and cs["lastState"]["terminated"]["reason"] == "Error"
    conditions = {c["type"]: c for c in status["conditions"]}
    assert set(conditions) == {"Initialized", "Ready", "ContainersReady", "PodScheduled"}
    assert conditions["Ready"]["status"] == "False" and conditions["Ready"]["reason"] == "ContainersNotReady"
    assert conditions["Ready"]["message"] == "containers with unready status: [httpd]"
    assert conditions["PodScheduled"]["status"] == "True"
    fine = get_json("pod", "web-fine")["status"]
    assert {c["type"]: c["status"] for c in fine["conditions"]}["Ready"] == "True"
    assert fine["containerStatuses"][0]["state"]["running"]["startedAt"].endswith("Z")

    rc = get_json("rc", "web")
    assert rc["status"]["replicas"] == 2 and rc["status"]["readyReplicas"] == 1


@pytest.mark.parametrize(("state", "exit_code", "expected"), [
    ("created", 0, "ContainerCreating"),
    ("exited", 0, "Completed"),
    ("exited", 137, "Error"),
    ("running", 0, "Running"),
])
def test_status_column_follows_the_container_state(state: str, exit_code: int, expected: str) -> None:
    from orchestrator.cli.documents import observed_pod_status

    c = ObservedContainer("a", "id", "img", state, exit_code, 1.0, 2.0)
    pod = ObservedPod("p", "u", "h", None, "Running" if state == "running" else "Failed", state == "running",
                      containers=(c,))
    status = observed_pod_status(pod, None, {"containers": [{"name": "a", "image": "img"}]})
    assert display_status(status) == expected


def test_a_bare_pod_not_placed_yet_is_pending_unscheduled(project: Path) -> None:
    pod = """{"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "solo"},
              "spec": {"containers": [{"name": "a", "image": "local/busybox:1",
                       "resources": {"limits": {"cpu": "1", "memory": "64Mi"}}}]}}"""
    assert orc("apply", "-f", "-", input=pod).exit_code == 0
    status = get_json("pod", "solo")["status"]
    assert status["phase"] == "Pending" and status["qosClass"] == "Guaranteed"
    assert status["conditions"][0]["type"] == "PodScheduled" and status["conditions"][0]["status"] == "False"


def test_qos_classes() -> None:
    assert qos_class([{"name": "a"}]) == "BestEffort"
    assert qos_class([{"resources": {"requests": {"cpu": "1"}}}]) == "Burstable"
    assert qos_class([{"resources": {"limits": {"cpu": "1", "memory": "1Gi"}}}]) == "Guaranteed"


def test_endpoints_are_subsets_grouped_by_ports(project: Path, store: Store) -> None:
    store.put("_meta/endpoints/web", {"endpoints": [
        {"ip": "10.99.0.11", "port": 20001, "pod": "web-a", "host": "lab1", "service_port": 80},
        {"ip": "10.99.0.12", "port": 20001, "pod": "web-b", "host": "lab2", "service_port": 80},
        {"ip": "10.99.0.12", "port": 20002, "pod": "web-c", "host": "lab2", "service_port": 80},
    ]})
    doc = get_json("ep", "web")
    assert doc["kind"] == "Endpoints" and doc["metadata"]["namespace"] == "default"
    subsets = sorted(doc["subsets"], key=lambda s: s["ports"][0]["port"])
    assert [a["ip"] for a in subsets[0]["addresses"]] == ["10.99.0.11", "10.99.0.12"]
    assert subsets[0]["ports"] == [{"name": "http", "port": 20001, "protocol": "TCP"}]
    assert subsets[0]["addresses"][0]["targetRef"] == {"kind": "Pod", "name": "web-a", "namespace": "default"}
    assert subsets[0]["addresses"][0]["nodeName"] == "lab1"
    assert subsets[1]["addresses"] == [{"ip": "10.99.0.12", "nodeName": "lab2",
                                        "targetRef": {"kind": "Pod", "name": "web-c", "namespace": "default"}}]
    view = read_view(store)
    assert endpoint_subsets(view, "web", {"subsets": [{"addresses": []}]}) == [{"addresses": []}]


def test_get_yaml_of_a_service_applies_back(project: Path) -> None:
    text = orc("get", "svc", "web", "-o", "yaml").stdout
    again = orc("apply", "-f", "-", input=text)
    assert again.exit_code == 0, again.output


def test_liveness_restarts_of_the_loop_count_in_restart_count() -> None:
    pods = [{"name": "web-a", "restarts": 1, "containers": [{"name": "httpd", "restarts": 1}]}]
    counts = next_restarts({}, ["orc_web-a_httpd"], pods)
    counts = next_restarts(counts, ["orc_web-a_httpd"], pods)
    assert counts == {"orc_web-a_httpd": 2}
    (pod,) = with_restarts(pods, counts)
    assert pod["restarts"] == 3 and pod["containers"][0]["restarts"] == 3  # docker's 1 and the loop's 2
    assert next_restarts(counts, [], []) == {}  # forgotten with the container
