"""Init containers, startupProbe, lifecycle.preStop and headless services, layer by layer: validation, the
commands (exact strings, and the init and preStop scripts run for real against a fake `docker` that keeps
container states in files), the snapshot's reading of what a host runs, the planner's decisions, the hosts
file and the kubectl-shaped status."""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from orchestrator import docker_labels as L
from orchestrator.cli.documents import display_status, init_container_statuses
from orchestrator.cli.observed import ObservedContainer
from orchestrator.cli.observed import ObservedPod as CliPod
from orchestrator.commands.pod import (
    STARTED_MARK,
    _start_in_order,
    continue_pod,
    create_pod,
    delete_pod,
    restart_container,
    stop_pods,
)
from orchestrator.config import ProxySettings
from orchestrator.controllers.book import Book
from orchestrator.errors import ValidationError
from orchestrator.model import parse_objects
from orchestrator.model.objects import Service
from orchestrator.observe.facts import ContainerInfo
from orchestrator.observe.snapshot import ClusterSnapshot, pods_of
from orchestrator.plan.pass_plan import with_pre_stop_hooks
from orchestrator.plan.planner import plan
from orchestrator.plan.types import ContinuePod, DeletePod, PodRun, PreStop, RestartContainer
from orchestrator.proxy.addresses import plan_allocation
from orchestrator.proxy.discovery import hosts_file
from orchestrator.proxy.endpoints import Endpoint
from tests.unit.plan_fixtures import T0, config, desired, host, iso

UID = "0f8fad5b-d9cb-469f-a165-70867728950e"


def pod_doc(spec: dict[str, Any], name: str = "p") -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name}, "spec": spec}


def lines_of(spec: dict[str, Any]) -> str:
    try:
        parse_objects([pod_doc(spec)])
    except ValidationError as e:
        return str(e)
    return ""


C = {"name": "app", "image": "local/busybox:1"}
INITS = [{"name": "first", "image": "local/busybox:1", "command": ["sh", "-c", "echo 1 > /w/x"],
          "volumeMounts": [{"name": "w", "mountPath": "/w"}]},
         {"name": "second", "image": "local/busybox:2"}]


# --- validation ---


def test_init_containers_startup_probe_and_pre_stop_are_accepted() -> None:
    (p,) = parse_objects([pod_doc({
        "initContainers": INITS, "volumes": [{"name": "w", "emptyDir": {}}],
        "containers": [{**C, "startupProbe": {"httpGet": {"path": "/", "port": 80}, "failureThreshold": 30},
                        "lifecycle": {"preStop": {"exec": {"command": ["sh", "-c", "sleep 1"]}}}}]})])
    assert [c.name for c in p.spec.all_containers] == ["first", "second", "app"]


def test_init_container_errors_are_named_each_once() -> None:
    text = lines_of({
        "initContainers": [{**INITS[0], "livenessProbe": {"exec": {"command": ["true"]}},
                            "ports": [{"containerPort": 80}], "lifecycle": {"preStop": {"sleep": {"seconds": 1}}}},
                           {"name": "app", "image": "local/busybox:1",
                            "volumeMounts": [{"name": "nope", "mountPath": "/x"}]}],
        "volumes": [{"name": "w", "emptyDir": {}}], "containers": [C]})
    assert "spec.initContainers[0].livenessProbe: Forbidden: may not be set for init containers" in text
    assert "spec.initContainers[0].lifecycle: Forbidden: may not be set for init containers" in text
    assert "spec.initContainers[0].ports: Forbidden" in text
    assert 'spec.initContainers[1].volumeMounts[0].name: Not found: "nope"' in text
    assert 'spec.containers[0].name: Duplicate value: "app"' in text  # unique across init and app containers
    assert text.count("\n") == 4, text


def test_probe_and_hook_errors() -> None:
    text = lines_of({"containers": [{**C, "startupProbe": {"exec": {"command": ["true"]}, "successThreshold": 2},
                                     "lifecycle": {"preStop": {}, "postStart": {"exec": {"command": ["x"]}}}}]})
    assert "spec.containers[0].startupProbe.successThreshold: Invalid value: 2: must be 1" in text
    assert "spec.containers[0].lifecycle.preStop: Required value: must specify a handler type" in text
    assert 'spec.containers[0].lifecycle.postStart: Forbidden: unknown field "postStart"' in text
    text = lines_of({"containers": [{**C, "lifecycle": {"preStop": {"httpGet": {"port": "web"},
                                                                    "exec": {"command": ["x"]}}}}]})
    assert "lifecycle.preStop: Forbidden: may not specify more than 1 handler type" in text


def service(**spec: Any) -> Service:
    (s,) = parse_objects([{"apiVersion": "v1", "kind": "Service", "metadata": {"name": "db"},
                           "spec": {"selector": {"app": "db"}, "ports": [{"port": 5432}], **spec}}])
    assert isinstance(s, Service)
    return s


def test_headless_service_is_accepted_but_not_as_a_node_port() -> None:
    assert service(clusterIP="None").headless
    assert not service().headless
    with pytest.raises(ValidationError) as e:
        service(clusterIP="None", type="NodePort")
    assert "spec.clusterIP: Invalid value: \"None\": may not be set to 'None' for NodePort services" in str(e.value)


def test_requests_count_the_largest_init_container_when_it_asks_for_more() -> None:
    from decimal import Decimal

    from orchestrator.model.helpers import pod_requests, spec_hash

    def spec(init_cpu: str, *apps: str):  # type: ignore[no-untyped-def]
        (p,) = parse_objects([pod_doc({
            "initContainers": [{"name": "i", "image": "i", "resources": {"requests": {"cpu": init_cpu}}}],
            "containers": [{"name": f"c{n}", "image": "i", "resources": {"requests": {"cpu": a}}}
                           for n, a in enumerate(apps)]})])
        return p.spec
    assert pod_requests(spec("1", "200m", "300m"))["cpu"] == Decimal(1)
    assert pod_requests(spec("100m", "200m", "300m"))["cpu"] == Decimal("0.5")
    assert spec_hash(spec("0.5", "1")) == spec_hash(spec("500m", "1"))


# --- commands ---


def run_of(spec: dict[str, Any]) -> PodRun:
    (p,) = parse_objects([pod_doc(spec)])
    return PodRun(name="p", uid=UID, owner=None, labels={}, spec=p.spec, spec_hash="h")


def test_a_pod_with_init_containers_creates_every_container_then_starts_them_in_order() -> None:
    run = run_of({"initContainers": INITS, "volumes": [{"name": "w", "emptyDir": {}}], "containers": [C]})
    cmd = create_pod(run, "local/busybox:1", ("sleep", "1"), cluster="c1")
    text = cmd.render()
    assert subprocess.run(["sh", "-n"], input=text.encode()).returncode == 0
    creates = [shlex.split(x.split(" >/dev/null")[0]) for x in text.splitlines() if x.startswith("docker create ")]
    assert [a[a.index("--name") + 1] for a in creates] == ["orc_p_first", "orc_p_second", "orc_p_app"]
    first, _, app = creates
    assert first[first.index("--restart") + 1] == "on-failure"  # retried when it fails, never once it succeeded
    assert app[app.index("--restart") + 1] == "unless-stopped"
    assert f"{L.INIT}=0" in first and "--volume=orc_" + UID + "_w:/w" in first
    assert "--network" in first and "container:orc_p" in first  # the pod's network namespace
    assert f"{L.INIT_CONTAINERS}=first,second" in text
    assert ("orc_init orc_p_first && orc_init orc_p_second && docker start -- orc_p_app >/dev/null || :"
            in text.splitlines())
    assert cmd.allowance == 10
    assert "docker rm -f orc_p orc_p_first orc_p_second orc_p_app" in text


def test_a_pod_without_init_containers_is_made_as_before() -> None:
    text = create_pod(run_of({"containers": [C]}), "local/busybox:1", cluster="c1").render()
    assert "docker run -d --name orc_p_app" in text and "docker create" not in text and "orc_init" not in text


def test_startup_probe_runs_first_in_the_health_check() -> None:
    run = run_of({"containers": [{**C, "startupProbe": {"exec": {"command": ["test", "-e", "/ok"]},
                                                        "periodSeconds": 2, "failureThreshold": 10},
                                  "livenessProbe": {"exec": {"command": ["true"]}, "periodSeconds": 3,
                                                    "failureThreshold": 2}}]})
    line = next(x for x in create_pod(run, "i", cluster="c1").render().splitlines() if "--name orc_p_app" in x)
    argv = shlex.split(line.split(" >/dev/null")[0])
    health = argv[argv.index("--health-cmd") + 1]
    assert health == (f"if [ -e {STARTED_MARK} ]; then true; elif {{ test -e /ok; }}; then : > {STARTED_MARK}; true; "
                      f"else echo 'orc: startup probe failed'; exit 1; fi")
    assert argv[argv.index("--health-interval") + 1] == "3s"  # the liveness probe's, after the start
    assert argv[argv.index("--health-start-period") + 1] == "14s"  # 10 x 2 s of startup, less 2 x 3 s
    assert f"{L.PROBE}=liveness" in argv and f"{L.STARTUP}=true" in argv


def test_startup_probe_alone() -> None:
    run = run_of({"containers": [{**C, "startupProbe": {"exec": {"command": ["true"]}}}]})
    line = next(x for x in create_pod(run, "i", cluster="c1").render().splitlines() if "--name orc_p_app" in x)
    argv = shlex.split(line.split(" >/dev/null")[0])
    assert f"{L.PROBE}=startup" in argv
    # Kubernetes' defaults, 3 x 10 s, are the check's own retries x interval: no start period beyond them
    assert argv[argv.index("--health-start-period") + 1] == "0s"
    assert argv[argv.index("--health-retries") + 1] == "3" and argv[argv.index("--health-interval") + 1] == "10s"


def test_pre_stop_becomes_a_label() -> None:
    run = run_of({"containers": [{**C, "ports": [{"containerPort": 80, "name": "web"}],
                                  "lifecycle": {"preStop": {"httpGet": {"path": "/quit", "port": "web"}}}},
                                 {"name": "b", "image": "i", "lifecycle": {"preStop": {"sleep": {"seconds": 3}}}}]})
    text = create_pod(run, "i", cluster="c1").render()
    labels = [a.partition("=")[2] for x in text.splitlines() if x.startswith("docker run -d --name orc_p_")
              for a in shlex.split(x) if a.startswith(L.PRE_STOP + "=")]
    http, sleep = (json.loads(v) for v in labels)
    assert http["exec"][:2] == ["sh", "-c"] and "http://127.0.0.1:80/quit" in http["exec"][2]
    assert sleep == {"sleep": 3}


HOOK = PreStop("orc_p_app", exec=("sh", "-c", "echo bye > /x"))


def test_delete_runs_the_hooks_within_the_grace() -> None:
    text = delete_pod("p", UID, 20, hooks=[HOOK, PreStop("orc_p_b", sleep=5)]).render()
    assert subprocess.run(["sh", "-n"], input=text.encode()).returncode == 0
    lines = text.splitlines()
    assert "timeout 20 docker exec -- orc_p_app sh -c 'echo bye > /x' >/dev/null 2>&1 &" in lines
    assert "timeout 20 sleep 5 >/dev/null 2>&1 &" in lines
    assert lines.index("wait") < next(i for i, x in enumerate(lines) if 'docker stop -t "$orc_left"' in x)
    # no hook, grace 0, or already stopped by the parallel stop: as before
    assert "orc_left" not in delete_pod("p", UID, 20).render()
    assert "docker exec" not in delete_pod("p", UID, 0, hooks=[HOOK]).render()
    assert "docker exec" not in delete_pod("p", UID, 20, stopped=True, hooks=[HOOK]).render()


def test_parallel_stop_and_restart_run_hooks() -> None:
    text = stop_pods([("p", UID, 5), ("q", "u2", 5)], {UID: [HOOK]}).render()
    assert subprocess.run(["sh", "-n"], input=text.encode()).returncode == 0
    assert ("(\n  orc_t0=$(date +%s)\n  timeout 5 docker exec -- orc_p_app sh -c 'echo bye > /x' >/dev/null 2>&1 &\n"
            f'  wait\n  orc_left=$((5 - $(date +%s) + orc_t0)); [ "$orc_left" -gt 0 ] || orc_left=0\n'
            f'  orc_stop {UID} "$orc_left"\n) &\n') in text
    assert "orc_stop u2 5 &" in text.splitlines()
    r = restart_container("p", "orc_p_app", 7, HOOK)
    assert r.shell is not None and 'docker restart -t "$orc_left" -- orc_p_app' in r.shell
    assert restart_container("p", "orc_p_app", 7).argv == ("docker", "restart", "-t", "7", "--", "orc_p_app")


# A docker that keeps each container's state in a file: "STATUS EXITCODE"; `start` runs it (its outcome is in
# NAME.exit, "0" by default); `wait` finishes it.
STATEFUL_DOCKER = """#!/bin/sh
d="$FAKE_DIR"
echo "$*" >> "$d/log"
case "$1" in
  inspect) cat "$d/$5.state" ;;
  start) shift 2; for c in "$@"; do echo "running 0" > "$d/$c.state"; done ;;
  wait) code=$(cat "$d/$3.exit" 2>/dev/null || echo 0); echo "exited $code" > "$d/$3.state"; echo "$code" ;;
  exec) ;;
  ps) echo abc ;;
  stop) ;;
esac
"""


def run_with_states(tmp_path: Path, script: str, states: dict[str, str], exits: dict[str, str] | None = None
                    ) -> list[str]:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    (bin_dir / "docker").write_text(STATEFUL_DOCKER)
    (bin_dir / "docker").chmod(0o755)
    for name, st in states.items():
        (tmp_path / f"{name}.state").write_text(st + "\n")
    for name, code in (exits or {}).items():
        (tmp_path / f"{name}.exit").write_text(code)
    (tmp_path / "log").unlink(missing_ok=True)
    r = subprocess.run(["sh", "-c", script], env={"PATH": f"{bin_dir}:/usr/bin:/bin", "FAKE_DIR": str(tmp_path)},
                       capture_output=True, timeout=20)
    assert r.returncode == 0, r.stderr
    log = tmp_path / "log"
    return [x for x in log.read_text().splitlines() if not x.startswith("inspect")] if log.exists() else []


ORDER = "\n".join(_start_in_order("p", ["a", "b"], ["x", "y"]))


@pytest.mark.parametrize("states,exits,started", [
    ({"orc_p_a": "created 0", "orc_p_b": "created 0"}, {},
     ["start -- orc_p_a", "wait -- orc_p_a", "start -- orc_p_b", "wait -- orc_p_b", "start -- orc_p_x orc_p_y"]),
    ({"orc_p_a": "created 0", "orc_p_b": "created 0"}, {"orc_p_a": "1"}, ["start -- orc_p_a", "wait -- orc_p_a"]),
    ({"orc_p_a": "exited 0", "orc_p_b": "created 0"}, {},
     ["start -- orc_p_b", "wait -- orc_p_b", "start -- orc_p_x orc_p_y"]),
    ({"orc_p_a": "restarting 1", "orc_p_b": "created 0"}, {}, []),  # docker retries it: wait for it
    ({"orc_p_a": "exited 2", "orc_p_b": "created 0"}, {}, []),  # failed for good (restartPolicy Never)
    ({"orc_p_a": "exited 0", "orc_p_b": "exited 0"}, {}, ["start -- orc_p_x orc_p_y"]),
])
def test_init_containers_start_one_after_the_other(tmp_path: Path, states, exits, started) -> None:
    assert run_with_states(tmp_path, ORDER, states, exits) == started


def test_continue_pod_is_the_same_chain() -> None:
    cmd = continue_pod("p", ["a", "b"], ["x"])
    assert cmd.name == "start pod/p" and cmd.allowance == 10
    assert "orc_init orc_p_a && orc_init orc_p_b && docker start -- orc_p_x >/dev/null || :" in (cmd.shell or "")


def test_the_hooks_run_before_the_stop(tmp_path: Path) -> None:
    log = run_with_states(tmp_path, delete_pod("p", UID, 3, hooks=[HOOK, PreStop("orc_p_b", sleep=1)]).render(), {})
    assert log[0].startswith("exec -- orc_p_app sh -c")
    assert log[1] == "ps --filter label=orc.pod-uid=" + UID + " --format {{.ID}} {{.Label \"orc.infra\"}}"
    assert log[2] in ("stop -t 2 abc", "stop -t 1 abc")  # the 1 s hook came out of the 3 s grace


# --- the snapshot ---


def container(name: str, state: str = "running", exit_code: int = 0, *, health: str | None = None,
              output: str = "", **labels: str) -> ContainerInfo:
    infra = name == "orc_p"
    return ContainerInfo(id=name, name=name, image="i", state=state, exit_code=exit_code, started_at=iso(T0),
                         finished_at="0001-01-01T00:00:00Z", restart_count=0, health=health,
                         labels={L.MANAGED: "true", L.CLUSTER: "c1", L.POD: "p", L.POD_UID: UID, L.OWNER: "",
                                 L.SPEC_HASH: "h", L.CONTAINER: "" if infra else name[6:], **labels},
                         ports={}, health_output=output)


def pod_with(a: str, b: str, app: str, b_exit: int = 0):  # type: ignore[no-untyped-def]
    cs = (container("orc_p", **{L.INFRA: "true", L.CONTAINERS: "app", L.INIT_CONTAINERS: "a,b"}),
          container("orc_p_a", a, **{L.INIT: "0"}), container("orc_p_b", b, b_exit, **{L.INIT: "1"}),
          container("orc_p_app", app))
    (p,) = pods_of(host("h1", containers=cs))
    return p


def test_what_a_pod_with_init_containers_waits_for() -> None:
    assert pod_with("exited", "created", "created").init_next == "b"
    assert pod_with("exited", "created", "created").phase == "Pending"
    assert pod_with("exited", "running", "created").init_next is None
    assert pod_with("exited", "exited", "created").init_next == ""  # the app containers
    started = pod_with("exited", "exited", "running")
    assert started.init_next is None and started.phase == "Running" and started.ready
    assert [c.name for c in started.inits] == ["orc_p_a", "orc_p_b"] and len(started.containers) == 1
    assert pod_with("exited", "exited", "created", b_exit=1).phase == "Failed"
    assert pod_with("exited", "restarting", "created", b_exit=1).phase == "Pending"
    assert "init_containers" in started.to_dict()


def test_a_pod_missing_an_init_container_is_incomplete() -> None:
    cs = (container("orc_p", **{L.INFRA: "true", L.CONTAINERS: "app", L.INIT_CONTAINERS: "a"}),
          container("orc_p_app", "created"))
    (p,) = pods_of(host("h1", containers=cs))
    assert p.phase == "Incomplete"


# --- the planner ---


def snapshot_of(*cs: ContainerInfo) -> ClusterSnapshot:
    return ClusterSnapshot.build([host("h1", containers=cs)], T0, cluster="c1")


def bare_pod_state() -> Any:
    return desired({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
                    "spec": {"initContainers": [{"name": "a", "image": "i"}, {"name": "b", "image": "i"}],
                             "containers": [{"name": "app", "image": "i"}]}})


def test_the_planner_starts_the_next_init_container() -> None:
    d = bare_pod_state()
    infra = container("orc_p", **{L.INFRA: "true", L.CONTAINERS: "app", L.INIT_CONTAINERS: "a,b"})
    snap = snapshot_of(infra, container("orc_p_a", "exited", **{L.INIT: "0"}),
                       container("orc_p_b", "created", **{L.INIT: "1"}), container("orc_p_app", "created"))
    p = plan(d, snap, Book(), T0, config(), seed=1)
    starts = [a for a in p.actions if isinstance(a, ContinuePod)]
    assert starts == [ContinuePod("h1", "p", UID, ("a", "b"), ("app",), "init container b is next")]
    snap = snapshot_of(infra, container("orc_p_a", "exited", **{L.INIT: "0"}),
                       container("orc_p_b", "running", **{L.INIT: "1"}), container("orc_p_app", "created"))
    assert not [a for a in plan(d, snap, Book(), T0, config(), seed=1).actions if isinstance(a, ContinuePod)]


def test_a_failed_startup_restarts_the_container_and_a_failed_readiness_does_not() -> None:
    d = desired({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
                 "spec": {"containers": [{"name": "app", "image": "i"}]}})
    infra = container("orc_p", **{L.INFRA: "true", L.CONTAINERS: "app"})
    failed = container("orc_p_app", health="unhealthy", output="orc: startup probe failed\n",
                       **{L.PROBE: "readiness", L.STARTUP: "true"})
    unready = container("orc_p_app", health="unhealthy", output="", **{L.PROBE: "readiness", L.STARTUP: "true"})
    restarts = [a for a in plan(d, snapshot_of(infra, failed), Book(), T0, config(), seed=1).actions
                if isinstance(a, RestartContainer)]
    assert [(a.container, a.reason) for a in restarts] == [("orc_p_app", "startup probe failed")]
    assert not [a for a in plan(d, snapshot_of(infra, unready), Book(), T0, config(), seed=1).actions
                if isinstance(a, RestartContainer)]


def test_deletes_and_restarts_carry_the_hooks_the_containers_were_made_with() -> None:
    infra = container("orc_p", **{L.INFRA: "true", L.CONTAINERS: "app,b"})
    app = container("orc_p_app", **{L.PRE_STOP: json.dumps({"exec": ["sh", "-c", "bye"]})})
    b = container("orc_p_b", **{L.PRE_STOP: '{"sleep": 2}'})
    broken = container("orc_p_c", **{L.PRE_STOP: "{not json"})
    snap = snapshot_of(infra, app, b, broken)
    out = with_pre_stop_hooks([DeletePod("h1", "p", UID, "x", 5), RestartContainer("h1", "p", "orc_p_app", "y")],
                              snap)
    assert out[0] == DeletePod("h1", "p", UID, "x", 5, hooks=(PreStop("orc_p_app", exec=("sh", "-c", "bye")),
                                                              PreStop("orc_p_b", sleep=2)))
    assert out[1] == RestartContainer("h1", "p", "orc_p_app", "y", hook=PreStop("orc_p_app", exec=("sh", "-c", "bye")))


# --- headless services ---


def endpoint(pod: str, address: str) -> Endpoint:
    return Endpoint("db", None, 5432, pod, pod, "h", address, 20001, pod)


def test_a_headless_name_resolves_to_its_ready_pods_hosts() -> None:
    web = parse_objects([{"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"},
                          "spec": {"selector": {"app": "web"}, "ports": [{"port": 80}]}}])[0]
    services = {"db": service(clusterIP="None"), "web": web}  # type: ignore[dict-item]
    alloc = plan_allocation([], services, ProxySettings())  # type: ignore[arg-type]
    assert set(alloc.addresses) == {"web"}  # no address for the headless one
    assert all(op.value.get("service") == "web" for op in alloc.ops)
    text = hosts_file(services, alloc.addresses,  # type: ignore[arg-type]
                      {"db": [endpoint("db-a", "10.99.6.11"), endpoint("db-b", "10.99.6.12"),
                              endpoint("db-c", "10.99.6.11")]})
    ip = alloc.addresses["web"].cluster_ip
    assert text == f"127.0.0.1 localhost\n10.99.6.11 db\n10.99.6.12 db\n{ip} web\n"
    assert hosts_file({"db": service(clusterIP="None")}, {}, {}) == "127.0.0.1 localhost\n"


# --- status, as kubectl shows it ---


def cli_pod(*inits: ObservedContainer) -> CliPod:
    return CliPod("p", phase="Pending", init_containers=inits,
                  containers=(ObservedContainer("app", state="created"),))


@pytest.mark.parametrize("inits,want", [
    ((ObservedContainer("a", state="running"), ObservedContainer("b")), "Init:0/2"),
    ((ObservedContainer("a", state="exited"), ObservedContainer("b", state="running")), "Init:1/2"),
    ((ObservedContainer("a", state="exited", exit_code=1), ObservedContainer("b")), "Init:Error"),
    ((ObservedContainer("a", state="restarting", exit_code=1, restarts=3), ObservedContainer("b")),
     "Init:CrashLoopBackOff"),
    ((ObservedContainer("a", state="exited"), ObservedContainer("b", state="exited")), "ContainerCreating"),
])
def test_init_status_as_kubectl_prints_it(inits, want) -> None:
    from orchestrator.cli.documents import observed_pod_status

    spec = {"initContainers": [{"name": "a", "image": "i"}, {"name": "b", "image": "i"}],
            "containers": [{"name": "app", "image": "i"}]}
    status = observed_pod_status(cli_pod(*inits), None, spec)
    assert display_status(status) == want
    initialized = status["conditions"][0]
    assert initialized["type"] == "Initialized"
    assert initialized["status"] == ("True" if want == "ContainerCreating" else "False")


def test_init_container_statuses() -> None:
    pod = cli_pod(ObservedContainer("a", state="exited", started_at=T0, finished_at=T0 + 1),
                  ObservedContainer("b"))
    a, b = init_container_statuses(pod, [{"name": "a", "image": "i"}, {"name": "b", "image": "j"}])
    assert a["state"]["terminated"]["reason"] == "Completed" and a["ready"]
    assert b == {"name": "b", "image": "j", "ready": False, "started": False, "restartCount": 0,
                 "state": {"waiting": {"reason": "PodInitializing"}}}


def test_describe_shows_init_containers_startup_probes_and_hooks() -> None:
    from orchestrator.cli.describe import Text, describe_containers

    out = Text()
    describe_containers(out, [{"name": "a", "image": "i"}], 0, "Init Containers")
    describe_containers(out, [{"name": "app", "image": "i", "startupProbe": {"exec": {"command": ["true"]}},
                               "lifecycle": {"preStop": {"exec": {"command": ["sh", "-c", "bye"]}}}}], 0)
    text = str(out)
    assert text.index("Init Containers:") < text.index("\nContainers:")
    assert "Startup:" in text and "exec [true]" in text
    assert "PreStop:" in text and "exec [sh -c bye]" in text


def test_round_trip_of_the_stored_snapshot() -> None:
    pod = cli_pod(ObservedContainer("a", state="exited"))
    assert CliPod.from_dict(pod.to_dict()) == pod
    assert "init_containers" not in CliPod("q").to_dict()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(pytest.main([__file__]))
