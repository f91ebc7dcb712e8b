"""Pods on docker, as exact command strings (create, delete, restart), checked by `sh -n`, and run for real
through the batch script against a fake `docker` that records the argv and env files it receives."""

from __future__ import annotations

import base64
import json
import re
import shlex
import subprocess
import sys
import time
from pathlib import Path

import pytest

from orchestrator.commands.pod import create_pod, delete_pod, env_file, restart_container, stop_pods
from orchestrator.controllers.placement import requests_of
from orchestrator.errors import ValidationError
from orchestrator.model.load import parse_objects
from orchestrator.plan.ports import assign_ports
from orchestrator.plan.types import PodRun
from orchestrator.transport.script import build_script, parse_output

UID = "0f8fad5b-d9cb-469f-a165-70867728950e"
HOST_IP = "10.99.1.11"
NASTY = 'it\'s $(rm -rf /); `id` "q" \\ $HOME ; & | > *'


def pod_run(
    spec: dict, *, name: str = "web-x7k2p", owner: str | None = "rc/web", env=None, gpus=()
) -> PodRun:
    doc = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "labels": {"app": "web", "tier": "fe"}},
        "spec": spec,
    }
    (pod,) = parse_objects([doc])
    return PodRun(
        name=name,
        uid=UID,
        owner=owner,
        labels=dict(pod.labels),
        spec=pod.spec,
        spec_hash="abcdef0123456789",
        requests=requests_of(pod.spec),
        gpu_devices=tuple(gpus),
        ports=assign_ports(pod.spec, HOST_IP, set(), range(20000, 20010)) or (),
        env=dict(env or {}),
    )


REPRESENTATIVE = {
    "restartPolicy": "OnFailure",
    "volumes": [
        {"name": "cache", "emptyDir": {}},
        {"name": "shm", "emptyDir": {"medium": "Memory"}},
        {"name": "logs", "hostPath": {"path": "/var/log/web"}},
    ],
    "containers": [
        {
            "name": "app",
            "image": "nginx:1.25",
            "command": ["/bin/sh", "-c"],
            "args": ["exec nginx -g 'daemon off;'"],
            "ports": [
                {"containerPort": 80, "hostPort": 8080, "name": "http"},
                {"containerPort": 53, "protocol": "UDP"},
            ],
            "env": [{"name": "PLAIN", "value": "x"}, {"name": "NASTY", "value": NASTY}, {"name": "EMPTY"}],
            "resources": {
                "requests": {"cpu": "250m", "memory": "64Mi"},
                "limits": {"cpu": "500m", "memory": "128Mi"},
            },
            "livenessProbe": {
                "httpGet": {"path": "/healthz", "port": "http"},
                "periodSeconds": 5,
                "failureThreshold": 2,
            },
            "volumeMounts": [
                {"name": "cache", "mountPath": "/cache"},
                {"name": "logs", "mountPath": "/var/log/nginx", "readOnly": True},
            ],
            "workingDir": "/srv",
            "imagePullPolicy": "IfNotPresent",
        },
        {
            "name": "side",
            "image": "busybox:1",
            "args": ["sleep", "3600"],
            "readinessProbe": {"tcpSocket": {"port": 80}},
            "volumeMounts": [{"name": "shm", "mountPath": "/dev/shm"}],
        },
    ],
}
EXTRA_ENV = {"WEB_SERVICE_HOST": "10.233.0.5"}

LABELS = (
    f"--label orc.managed=true --label orc.cluster=c1 --label orc.pod=web-x7k2p --label orc.pod-uid={UID} --label orc.owner=rc/web "
    "--label orc.spec-hash=abcdef0123456789"
)
POD_LABELS = "--label orc.label.app=web --label orc.label.tier=fe"
HTTP_CHECK = (
    "'if command -v curl >/dev/null; then curl -fsS -o /dev/null http://127.0.0.1:80/healthz; "
    "elif command -v wget >/dev/null && ! command -v nc >/dev/null; then wget -q -O /dev/null "
    "http://127.0.0.1:80/healthz; else printf '\"'\"'GET /healthz HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n'\"'\"' "
    "| nc -w 2 127.0.0.1 80 | head -n 1 | grep -q '\"'\"' [23][0-9][0-9] '\"'\"'; fi'"
)
TCP_CHECK = "'nc -z -w 1 127.0.0.1 80 2>/dev/null || nc -w 1 127.0.0.1 80 </dev/null >/dev/null'"


def b64env(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


EXPECTED_CREATE = "\n".join(
    [
        "orc_undo() { docker rm -f orc_web-x7k2p orc_web-x7k2p_app orc_web-x7k2p_side >/dev/null 2>&1; "
        f"docker volume rm $(docker volume ls -q --filter label=orc.pod-uid={UID}) >/dev/null 2>&1; }}",
        'orc_fail() { echo "$1" >&2; orc_undo; exit 1; }',
        f"docker volume create --label orc.pod-uid={UID} --label orc.cluster=c1 --label orc.managed=true "
        f"orc_{UID}_cache >/dev/null || orc_fail 'volume cache'",
        f"docker volume create --label orc.pod-uid={UID} --label orc.cluster=c1 --label orc.managed=true "
        f"--opt type=tmpfs --opt device=tmpfs orc_{UID}_shm "
        ">/dev/null || orc_fail 'volume shm'",
        f"docker run -d --name orc_web-x7k2p --hostname web-x7k2p --restart unless-stopped {LABELS} "
        f"--label orc.container= {POD_LABELS} --label orc.infra=true --label orc.containers=app,side "
        '--label \'orc.requests={"cpu":250,"ephemeral":0,"gpus":0,"memory":67108864}\' '
        "--label orc.host-ports=8080/TCP --label orc.port-names=http=80/tcp --label orc.grace=30 --label orc.gpus= "
        "-p 8080:80/tcp -p 10.99.1.11:20000:53/udp -- local/busybox:1 sleep 2147483647 >/dev/null || orc_fail 'infra container'",
        "orc_env=$(mktemp) || orc_fail 'mktemp'",
        f"printf '%s' {b64env(f'WEB_SERVICE_HOST=10.233.0.5{chr(10)}PLAIN=x{chr(10)}NASTY={NASTY}{chr(10)}EMPTY={chr(10)}')}"
        " | base64 -d > \"$orc_env\" || orc_fail 'env file'",
        "docker run -d --name orc_web-x7k2p_app --network container:orc_web-x7k2p --restart on-failure "
        f'--env-file "$orc_env" {LABELS} --label orc.container=app {POD_LABELS} --cpus 0.5 --memory 134217728 '
        f"--health-cmd {HTTP_CHECK} --health-interval 5s --health-timeout 1s --health-retries 2 "
        "--health-start-period 0s --label orc.probe=liveness --pull missing --workdir=/srv "
        f"--volume=orc_{UID}_cache:/cache --volume=/var/log/web:/var/log/nginx:ro --entrypoint=/bin/sh -- nginx:1.25 "
        "-c 'exec nginx -g '\"'\"'daemon off;'\"'\"'' >/dev/null || { rm -f \"$orc_env\"; orc_fail 'container app'; }",
        f"printf '%s' {b64env('WEB_SERVICE_HOST=10.233.0.5' + chr(10))} | base64 -d > \"$orc_env\" || orc_fail 'env file'",
        "docker run -d --name orc_web-x7k2p_side --network container:orc_web-x7k2p --restart on-failure "
        f'--env-file "$orc_env" {LABELS} --label orc.container=side {POD_LABELS} '
        f"--health-cmd {TCP_CHECK} --health-interval 10s --health-timeout 1s --health-retries 3 "
        "--health-start-period 0s --label orc.probe=readiness "
        f"--volume=orc_{UID}_shm:/dev/shm -- busybox:1 sleep 3600 >/dev/null || {{ rm -f \"$orc_env\"; orc_fail 'container side'; }}",
        'rm -f "$orc_env"',
        "echo created web-x7k2p",
    ]
)


def representative() -> PodRun:
    return pod_run(REPRESENTATIVE, env=EXTRA_ENV)


def test_create_pod_exact_script() -> None:
    c = create_pod(representative(), "local/busybox:1", ("sleep", "2147483647"), cluster="c1")
    assert c.name == "create pod/web-x7k2p"
    assert c.stdin is None
    assert c.render() == EXPECTED_CREATE


def test_env_values_never_reach_argv_and_decode_exactly() -> None:
    text = create_pod(representative(), "local/busybox:1", cluster="c1").render()
    assert "rm -rf" not in text and "10.233.0.5" not in text
    run = representative()
    assert env_file(run.spec.containers[0], run.env) == (
        f"WEB_SERVICE_HOST=10.233.0.5\nPLAIN=x\nNASTY={NASTY}\nEMPTY=\n"
    )


APPS = ("--format '{{.ID}} {{.Label \"orc.infra\"}}' | "
        'while read -r id infra; do [ "$infra" = true ] || echo "$id"; done')
REMOVE = [
    f'ids=$(docker ps -aq --filter label=orc.pod-uid={UID}); [ -z "$ids" ] || docker rm -f $ids >/dev/null || exit 1',
    f'vols=$(docker volume ls -q --filter label=orc.pod-uid={UID}); [ -z "$vols" ] || docker volume rm $vols >/dev/null',
    "echo deleted web-x7k2p",
]


def test_delete_pod_gives_the_app_containers_30s_of_sigterm_by_default() -> None:
    """Kubernetes' default: SIGTERM, SIGKILL 30 s later (docker stop -t 30), to the app containers only;
    the infra container (a sleep that ignores SIGTERM) is removed at once afterwards."""
    d = delete_pod("web-x7k2p", UID)
    assert d.name == "delete pod/web-x7k2p"
    assert d.render().splitlines() == [
        f"ids=$(docker ps --filter label=orc.pod-uid={UID} {APPS})",
        '[ -z "$ids" ] || docker stop -t 30 $ids >/dev/null 2>&1',
        *REMOVE,
    ]
    assert d.allowance == 40  # the batch's time limit grows by the grace period (+ docker's kill margin)
    assert delete_pod("web-x7k2p", UID, grace=2).render().splitlines()[1] == (
        '[ -z "$ids" ] || docker stop -t 2 $ids >/dev/null 2>&1')
    assert delete_pod("web-x7k2p", UID, grace=2).allowance == 12


def test_delete_pod_with_grace_0_kills_at_once_and_after_a_parallel_stop_adds_no_time() -> None:
    now = delete_pod("web-x7k2p", UID, grace=0)
    assert now.render().splitlines() == REMOVE and now.allowance == 0
    after = delete_pod("web-x7k2p", UID, grace=30, stopped=True)
    assert after.render() == delete_pod("web-x7k2p", UID, grace=30).render() and after.allowance == 0


def test_stop_pods_stops_every_pod_in_parallel_with_its_own_grace() -> None:
    s = stop_pods([("web-a", "uid-a", None), ("web-b", "uid-b", 5), ("web-c", "it's", 0)])
    assert s.name == "stop 3 pods"
    assert s.render().splitlines() == [
        "orc_stop() {",
        f'  ids=$(docker ps --filter "label=orc.pod-uid=$1" {APPS})',
        '  [ -z "$ids" ] || docker stop -t "$2" $ids >/dev/null 2>&1',
        "}",
        "orc_stop uid-a 30 &",
        "orc_stop uid-b 5 &",
        "orc_stop 'it'\"'\"'s' 0 &",  # a uid read from a host's labels is quoted like any value
        "wait",
        "echo stopped web-a web-b web-c",
    ]
    assert s.allowance == 40  # the longest grace, not the sum: they stop at the same time


def test_restart_container_honours_the_pods_grace() -> None:
    r = restart_container("web-x7k2p", "orc_web-x7k2p_app")
    assert r.render() == "docker restart -t 30 -- orc_web-x7k2p_app" and r.allowance == 40
    assert r.name == "restart pod/web-x7k2p orc_web-x7k2p_app"
    assert restart_container("web-x7k2p", "orc_web-x7k2p_app", 3).render() == "docker restart -t 3 -- orc_web-x7k2p_app"


def app_line(run: PodRun) -> list[str]:
    line = next(
        x for x in create_pod(run, "pause:3.9", cluster="c1").render().splitlines() if "--name orc_web-x7k2p_app" in x
    )
    return shlex.split(line.split(" >/dev/null", 1)[0])


@pytest.mark.parametrize(
    ("policy", "docker"),
    [(None, "unless-stopped"), ("Always", "unless-stopped"), ("OnFailure", "on-failure"), ("Never", "no")],
)
def test_restart_policies(policy: str | None, docker: str) -> None:
    spec = {
        "containers": [{"name": "app", "image": "img:1"}],
        **({"restartPolicy": policy} if policy else {}),
    }
    argv = app_line(pod_run(spec))
    assert argv[argv.index("--restart") + 1] == docker


@pytest.mark.parametrize(
    ("spec", "tail"),
    [
        ({}, ["--", "img:1"]),
        ({"args": ["-x", "a b"]}, ["--", "img:1", "-x", "a b"]),
        ({"command": ["/app"]}, ["--entrypoint=/app", "--", "img:1"]),
        (
            {"command": ["/app", "serve"], "args": ["--port", "80"]},
            ["--entrypoint=/app", "--", "img:1", "serve", "--port", "80"],
        ),
        ({"command": ["--privileged"]}, ["--entrypoint=--privileged", "--", "img:1"]),
    ],
)
def test_command_and_args_as_kubernetes_means_them(spec: dict, tail: list[str]) -> None:
    argv = app_line(pod_run({"containers": [{"name": "app", "image": "img:1", **spec}]}))
    assert argv[len(argv) - len(tail) :] == tail
    assert any(a.startswith("--entrypoint=") for a in argv) == ("command" in spec)


def test_gpus_are_passed_as_devices_when_limited() -> None:
    spec = {
        "containers": [{"name": "app", "image": "cuda:12", "resources": {"limits": {"nvidia.com/gpu": "2"}}}]
    }
    argv = app_line(pod_run(spec, gpus=("GPU-a", "GPU-b")))
    assert argv[argv.index("--gpus") + 1] == "device=GPU-a,GPU-b"


def test_a_pod_without_env_truncates_the_env_file() -> None:
    lines = (
        create_pod(pod_run({"containers": [{"name": "app", "image": "img:1"}]}), "pause:3.9", cluster="c1")
        .render()
        .splitlines()
    )
    assert ': > "$orc_env"' in lines


def test_scripts_pass_sh_syntax_check() -> None:
    for c in (
        create_pod(representative(), "local/busybox:1", ("sleep", "1"), cluster="c1"),
        delete_pod("web-x7k2p", UID, 30),
        delete_pod("web-x7k2p", UID, 0),
        stop_pods([("web-a", "uid-a", None), ("web-b", "uid-b", 5)]),
        restart_container("web-x7k2p", "orc_web-x7k2p_app"),
    ):
        r = subprocess.run(["sh", "-n"], input=c.render(), text=True, capture_output=True, timeout=10)
        assert r.returncode == 0, (c.name, r.stderr)


# --- run for real, against a fake docker ---

FAKE_DOCKER = """#!{python}
import json, os, sys
args = sys.argv[1:]
rec = {{"argv": args}}
if "--env-file" in args:
    rec["env"] = open(args[args.index("--env-file") + 1]).read()
rec["environ"] = {{k: v for k, v in os.environ.items() if k in ("CERT", "MY_POD_IP")}}
with open(os.environ["FAKE_DOCKER_LOG"], "a") as f:
    f.write(json.dumps(rec) + "\\n")
fail = os.environ.get("FAKE_DOCKER_FAIL")
if fail and fail in args:
    sys.exit(125)
if args[:1] == ["run"]:
    print("0123456789ab")
if args[:1] == ["inspect"]:
    print("172.17.0.9")
if args[:2] == ["image", "inspect"]:
    print(os.environ.get("FAKE_IMAGE_USER", ""))
"""


@pytest.fixture
def docker(tmp_path: Path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    exe = bin_dir / "docker"
    exe.write_text(FAKE_DOCKER.format(python=sys.executable))
    exe.chmod(0o755)
    log = tmp_path / "docker.log"

    def run(cmd, fail: str | None = None, image_user: str | None = None):
        script = build_script([cmd])
        env = {
            "PATH": f"{bin_dir}:/usr/bin:/bin",
            "FAKE_DOCKER_LOG": str(log),
            "HOME": str(tmp_path),
            **({"FAKE_DOCKER_FAIL": fail} if fail else {}),
            **({"FAKE_IMAGE_USER": image_user} if image_user is not None else {}),
        }
        r = subprocess.run(["sh", "-s"], input=script.text.encode(), env=env, capture_output=True, timeout=30)
        result = parse_output(script, "h1", r.stdout, r.stderr)
        calls = [json.loads(x) for x in log.read_text().splitlines()] if log.exists() else []
        log.unlink(missing_ok=True)
        return result.steps[0], calls

    return run


def test_create_script_runs_docker_with_exactly_the_intended_argv_and_env(docker) -> None:
    run = representative()
    step, calls = docker(create_pod(run, "local/busybox:1", ("sleep", "2147483647"), cluster="c1"))
    assert step.ok and step.stdout.strip() == "created web-x7k2p"
    assert [c["argv"][:2] for c in calls] == [
        ["volume", "create"],
        ["volume", "create"],
        ["run", "-d"],
        ["run", "-d"],
        ["run", "-d"],
    ]
    app = calls[3]
    assert app["env"] == f"WEB_SERVICE_HOST=10.233.0.5\nPLAIN=x\nNASTY={NASTY}\nEMPTY=\n"
    assert calls[4]["env"] == "WEB_SERVICE_HOST=10.233.0.5\n"
    argv = app["argv"]
    assert argv[argv.index("--entrypoint=/bin/sh") :] == [
        "--entrypoint=/bin/sh",
        "--",
        "nginx:1.25",
        "-c",
        "exec nginx -g 'daemon off;'",
    ]
    labels = dict(a.split("=", 1) for a in calls[2]["argv"][1::1] if re.match(r"orc\.[a-z.-]+=", a))
    assert labels["orc.requests"] == '{"cpu":250,"ephemeral":0,"gpus":0,"memory":67108864}'
    assert labels["orc.pod-uid"] == UID and labels["orc.label.tier"] == "fe"


def test_create_script_undoes_everything_when_a_container_fails(docker) -> None:
    step, calls = docker(create_pod(representative(), "local/busybox:1", cluster="c1"), fail="orc_web-x7k2p_side")
    assert not step.ok and "container side" in step.stderr
    assert [c["argv"][:2] for c in calls] == [
        ["volume", "create"],
        ["volume", "create"],
        ["run", "-d"],
        ["run", "-d"],
        ["run", "-d"],
        ["rm", "-f"],
        ["volume", "ls"],
        ["volume", "rm"],
    ]
    assert calls[5]["argv"] == ["rm", "-f", "orc_web-x7k2p", "orc_web-x7k2p_app", "orc_web-x7k2p_side"]
    assert calls[6]["argv"] == ["volume", "ls", "-q", "--filter", f"label=orc.pod-uid={UID}"]


def test_delete_script_stops_the_apps_then_removes_everything_by_uid(docker) -> None:
    step, calls = docker(delete_pod("web-x7k2p", UID))
    assert step.ok and step.stdout.strip() == "deleted web-x7k2p"
    assert [c["argv"] for c in calls] == [
        ["ps", "--filter", f"label=orc.pod-uid={UID}", "--format", '{{.ID}} {{.Label "orc.infra"}}'],
        ["ps", "-aq", "--filter", f"label=orc.pod-uid={UID}"],
        ["volume", "ls", "-q", "--filter", f"label=orc.pod-uid={UID}"],
    ]


def _docker_env_file(text: str) -> dict[str, str]:
    """How docker reads --env-file (cli/opts/envfile.go): one VAR=VALUE per line, leading whitespace of the
    name trimmed, blank and # lines skipped, a line without '=' taken from docker's own environment."""
    out = {}
    for line in text.split("\n"):
        line = line.lstrip()
        if not line or line.startswith("#"):
            continue
        name, eq, value = line.partition("=")
        out[name] = value if eq else f"<from the environment of docker: {name}>"
    return out


def test_env_file_round_trips_through_dockers_reader() -> None:
    run = representative()
    assert _docker_env_file(env_file(run.spec.containers[0], run.env)) == {
        "WEB_SERVICE_HOST": "10.233.0.5",
        "PLAIN": "x",
        "NASTY": NASTY,
        "EMPTY": "",
    }


def test_env_value_with_a_newline_reaches_the_container_whole(docker) -> None:
    """docker's --env-file is line-based: such a value goes through the docker CLI's environment instead
    (`-e NAME`), set by the script read on stdin, so it is neither cut nor in any argv."""
    run = pod_run({"containers": [{"name": "app", "image": "img:1",
                                   "env": [{"name": "CERT", "value": "line1\nline2 'q'"}, {"name": "A", "value": "1"}]}]})
    assert _docker_env_file(env_file(run.spec.containers[0], {})) == {"A": "1"}
    step, calls = docker(create_pod(run, "pause:3.9", cluster="c1"))
    assert step.ok, step.stderr
    app = calls[-1]
    assert app["argv"][app["argv"].index("-e") + 1] == "CERT" and "line1" not in " ".join(app["argv"])
    assert app["environ"]["CERT"] == "line1\nline2 'q'"


SLOW_DOCKER = """#!/bin/sh
# ps: one app container and the infra container of the pod whose uid is in the filter; stop: takes 1 s.
echo "$*" >> "$FAKE_DOCKER_LOG"
case "$1" in
  ps) uid=${3#label=orc.pod-uid=}; printf 'app-%s \\ninfra-%s true\\n' "$uid" "$uid" ;;
  stop) sleep 1 ;;
esac
"""


def test_stop_pods_really_runs_in_parallel_and_spares_the_infra_containers(tmp_path: Path) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "docker").write_text(SLOW_DOCKER)
    (bin_dir / "docker").chmod(0o755)
    log = tmp_path / "docker.log"
    script = build_script([stop_pods([(f"web-{i}", f"u{i}", 30) for i in range(4)])])
    env = {"PATH": f"{bin_dir}:/usr/bin:/bin", "FAKE_DOCKER_LOG": str(log)}
    start = time.monotonic()
    r = subprocess.run(["sh", "-s"], input=script.text.encode(), env=env, capture_output=True, timeout=30)
    took = time.monotonic() - start
    step = parse_output(script, "h1", r.stdout, r.stderr).steps[0]
    assert step.ok and step.stdout.strip() == "stopped web-0 web-1 web-2 web-3"
    stops = sorted(x for x in log.read_text().splitlines() if x.startswith("stop"))
    assert stops == [f"stop -t 30 app-u{i}" for i in range(4)]  # the apps only, each with its grace
    assert took < 2.5, f"4 stops of 1 s each took {took:.1f}s: not in parallel"


def test_field_refs_reach_the_container_and_the_pod_ip_is_read_once_the_pod_exists(docker) -> None:
    """Downward API env: the pod's name, namespace, labels, node, host address and service account are known
    when it is planned (env file); its IP only once its infra container runs (read there, passed by -e)."""
    from orchestrator.plan.downward import field_env

    def ref(path: str) -> dict:
        return {"valueFrom": {"fieldRef": {"fieldPath": path}}}

    run = pod_run({"containers": [{"name": "app", "image": "img:1", "env": [
        {"name": "MY_POD_NAME", **ref("metadata.name")}, {"name": "MY_NS", **ref("metadata.namespace")},
        {"name": "MY_NODE", **ref("spec.nodeName")}, {"name": "MY_HOST_IP", **ref("status.hostIP")},
        {"name": "MY_TIER", **ref("metadata.labels['tier']")}, {"name": "MY_SA", **ref("spec.serviceAccountName")},
        {"name": "MY_POD_IP", **ref("status.podIP")}]}]})
    import dataclasses

    run = dataclasses.replace(run, field_env=field_env(run, "tlab2", HOST_IP))
    step, calls = docker(create_pod(run, "pause:3.9", cluster="c1"))
    assert step.ok, step.stderr
    assert calls[1]["argv"][:2] == ["inspect", "-f"] and calls[1]["argv"][-1] == "orc_web-x7k2p"
    app = calls[-1]
    assert _docker_env_file(app["env"]) == {"MY_POD_NAME": "web-x7k2p", "MY_NS": "default", "MY_NODE": "tlab2",
                                            "MY_HOST_IP": HOST_IP, "MY_TIER": "fe", "MY_SA": "default"}
    assert "MY_POD_IP" in app["argv"] and app["environ"]["MY_POD_IP"] == "172.17.0.9"


def test_run_as_non_root_is_checked_against_the_image_and_security_flags_reach_docker(docker) -> None:
    run = pod_run({"securityContext": {"runAsNonRoot": True},
                   "containers": [{"name": "app", "image": "img:1",
                                   "securityContext": {"readOnlyRootFilesystem": True, "capabilities": {"drop": ["ALL"]}}}]})
    step, calls = docker(create_pod(run, "pause:3.9", cluster="c1"), image_user="root")
    assert not step.ok and "has runAsNonRoot and image img:1 will run as root" in step.stderr
    assert ["rm", "-f"] in [c["argv"][:2] for c in calls]  # the infra container made before is removed
    step, calls = docker(create_pod(run, "pause:3.9", cluster="c1"), image_user="1000:1000")
    assert step.ok, step.stderr
    app = calls[-1]["argv"]
    assert "--read-only" in app and "--cap-drop=ALL" in app and app.index("--read-only") < app.index("--")


def test_a_host_path_sub_path_mounts_the_folder_under_it_and_an_empty_dir_one_is_refused_by_name() -> None:
    spec = {"volumes": [{"name": "logs", "hostPath": {"path": "/var/log/web/"}}],
            "containers": [{"name": "app", "image": "img:1", "volumeMounts": [
                {"name": "logs", "mountPath": "/logs", "subPath": "app/x"},
                {"name": "logs", "mountPath": "/all", "readOnly": True}]}]}
    argv = app_line(pod_run(spec))
    assert "--volume=/var/log/web/app/x:/logs" in argv and "--volume=/var/log/web:/all:ro" in argv
    bad = {"volumes": [{"name": "cache", "emptyDir": {}}],
           "containers": [{"name": "app", "image": "img:1",
                           "volumeMounts": [{"name": "cache", "mountPath": "/c", "subPath": "a"}]}],
           "initContainers": [{"name": "init", "image": "img:1",
                               "volumeMounts": [{"name": "cache", "mountPath": "/c", "subPath": "b"}]}]}
    with pytest.raises(ValidationError) as e:
        pod_run(bad)
    text = str(e.value)
    assert "spec.containers[0].volumeMounts[0].subPath" in text and "emptyDir" in text
    assert "spec.initContainers[0].volumeMounts[0].subPath" in text


SOLO = {"containers": [{"name": "app", "image": "nginx:1.25", "ports": [{"containerPort": 80, "name": "http"}],
                        "resources": {"requests": {"cpu": "250m"}}}], "terminationGracePeriodSeconds": 7}


def test_a_solo_pod_is_one_container_that_carries_the_infra_labels_and_publishes_its_ports(docker) -> None:
    """One container, no init containers, no status.podIP: no infra container. Its one `docker run` has its
    own network namespace (no --network), the pod's hostname and ports, and what the infra container would
    carry (orc.infra=self), so the snapshot rebuilds the pod from it alone."""
    from orchestrator.commands.pod import solo

    run = pod_run(SOLO)
    assert solo(run.spec)
    script = create_pod(run, "local/busybox:1", ("sleep", "2147483647"), cluster="c1").render()
    runs = [line for line in script.splitlines() if line.startswith("docker run ")]
    (line,) = runs
    argv = shlex.split(line.split(" >/dev/null", 1)[0])
    assert argv[:5] == ["docker", "run", "-d", "--name", "orc_web-x7k2p_app"] and "--network" not in argv
    assert argv[argv.index("--hostname") + 1] == "web-x7k2p"
    labels = dict(a.split("=", 1) for a, prev in zip(argv[1:], argv, strict=False) if prev == "--label")
    assert (labels["orc.infra"], labels["orc.containers"], labels["orc.container"], labels["orc.grace"]) == (
        "self", "app", "app", "7")
    assert labels["orc.requests"] == '{"cpu":250,"ephemeral":0,"gpus":0,"memory":0}'
    assert labels["orc.port-names"] == "http=80/tcp"
    assert argv[argv.index("-p") + 1] == f"{HOST_IP}:20000:80/tcp"
    assert argv[argv.index("--restart") + 1] == "unless-stopped"
    assert "orc_web-x7k2p " in script.splitlines()[0]  # the undo's `rm -f` may name the absent infra: harmless
    step, calls = docker(create_pod(run, "local/busybox:1", cluster="c1"))
    assert step.ok and [c["argv"][:2] for c in calls] == [["run", "-d"]]


@pytest.mark.parametrize("change", ["sidecar", "init", "pod ip"])
def test_a_pod_that_shares_or_keeps_a_sandbox_still_gets_its_infra_container(change: str) -> None:
    from orchestrator.commands.pod import solo

    spec = json.loads(json.dumps(SOLO))
    if change == "sidecar":
        spec["containers"].append({"name": "side", "image": "busybox:1"})
    elif change == "init":
        spec["initContainers"] = [{"name": "first", "image": "busybox:1"}]
    else:  # its env holds the pod's IP, which only an infra container keeps across restarts
        spec["containers"][0]["env"] = [{"name": "MY_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}}]
    run = pod_run(spec)
    assert not solo(run.spec)
    script = create_pod(run, "local/busybox:1", ("sleep", "2147483647"), cluster="c1").render()
    assert "docker run -d --name orc_web-x7k2p --hostname web-x7k2p" in script
    assert all("--network container:orc_web-x7k2p" in line for line in script.splitlines()
               if line.lstrip("( ").startswith(("docker run -d --name orc_web-x7k2p_", "docker create --name"))
               or '"$orc_docker" run' in line or '"$orc_docker" create' in line)
