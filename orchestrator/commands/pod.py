"""Pods on docker, as commands (pure; tested by exact strings).

A pod is an infra container holding the network namespace (and publishing every port of the pod) plus
one container per spec container joined to it with `--network container:`. Names are deterministic, so
docker itself refuses a duplicate: infra `orc_<pod>`, app containers `orc_<pod>_<container>` (neither pod
nor container names may contain `_`, so the two never collide). emptyDir volumes are docker volumes
labelled with the pod uid. Every container carries the labels the snapshot is rebuilt from.

A solo pod (`solo`: one container, no init containers, no `status.podIP` in its env) has no infra
container: nothing shares its network namespace, so its one container publishes the ports and carries
the infra's labels itself (`orc.infra=self`), and a pod costs one `docker run`, not two."""

from __future__ import annotations

import base64
import json
import shlex
from collections.abc import Mapping, Sequence

from orchestrator import docker_labels as L
from orchestrator.commands.base import Command, sh
from orchestrator.commands.config_volume import volume_lines
from orchestrator.model.helpers import host_ports
from orchestrator.model.pod import Container, PodSpec, Probe
from orchestrator.model.text import env_file_safe
from orchestrator.plan.downward import pod_ip_vars
from orchestrator.plan.types import PodRun, PreStop
from orchestrator.proxy.pod_labels import infra_labels
from orchestrator.resources import cpu_millis, parse_quantity, to_bytes

RESTART = {"Always": "unless-stopped", "OnFailure": "on-failure", "Never": "no"}
PULL = {"Always": "always", "IfNotPresent": "missing", "Never": "never"}


def infra_name(pod: str) -> str:
    return f"orc_{pod}"


def container_name(pod: str, container: str) -> str:
    return f"orc_{pod}_{container}"


def solo(spec: PodSpec) -> bool:
    """A pod whose one container needs no infra container: no other container shares its network
    namespace, and none was given the pod's IP at creation (`status.podIP`), which a restart of that
    container could change (an infra container keeps it for the pod's life)."""
    return len(spec.containers) == 1 and not spec.init_containers and not pod_ip_vars(spec.containers[0])


def volume_name(uid: str, volume: str) -> str:
    return f"orc_{uid}_{volume}"


def pod_labels(run: PodRun, container: str, cluster: str) -> list[str]:
    if not cluster:
        raise ValueError("a pod's containers must carry the cluster's name")
    labels = {
        L.MANAGED: "true",
        L.CLUSTER: cluster,
        L.POD: run.name,
        L.POD_UID: run.uid,
        L.OWNER: run.owner or "",
        L.SPEC_HASH: run.spec_hash,
        L.CONTAINER: container,
    }
    labels.update({L.LABEL_PREFIX + k: v for k, v in run.labels.items()})
    out: list[str] = []
    for k, v in labels.items():
        out += ["--label", f"{k}={v}"]
    return out


def _ports(run: PodRun) -> list[str]:
    """Every container port on the host port the plan chose, on the host's cluster address (an explicit
    hostPort on every address, as asked): never a random port on 0.0.0.0."""
    out: list[str] = []
    for b in run.ports:
        out += ["-p", b.publish()]
    return out


def probe_command(probe: Probe, ports: dict[str, int]) -> str:
    """A shell test for docker's HEALTHCHECK. exec runs as given; tcpSocket and httpGet use whichever of
    nc, wget or curl the image has (the image needs /bin/sh and one of them)."""
    if probe.exec is not None:
        return shlex.join(probe.exec.command)
    action = probe.http_get or probe.tcp_socket
    assert action is not None
    port = action.port if isinstance(action.port, int) else ports[action.port]
    host = getattr(action, "host", None) or "127.0.0.1"
    if probe.tcp_socket is not None:
        h = shlex.quote(host)
        return f"nc -z -w 1 {h} {port} 2>/dev/null || nc -w 1 {h} {port} </dev/null >/dev/null"
    path = probe.http_get.path or "/" if probe.http_get else "/"
    url = shlex.quote(f"http://{host}:{port}{path}")
    req = shlex.quote(f"GET {path} HTTP/1.0\r\nHost: {host}\r\n\r\n")
    return (f"if command -v curl >/dev/null; then curl -fsS -o /dev/null {url}; "
            f"elif command -v wget >/dev/null && ! command -v nc >/dev/null; then wget -q -O /dev/null {url}; "
            f"else printf {req} | nc -w 2 {shlex.quote(host)} {port} | head -n 1 | grep -q ' [23][0-9][0-9] '; fi")


# Where a container's health check records that its startupProbe succeeded: /dev/shm is a tmpfs of the
# container's own (writable under readOnlyRootFilesystem and by any user), emptied when it stops, so a
# restarted container goes through its startup probe again.
STARTED_MARK = "/dev/shm/.orc-started"
STARTUP_FAILED = L.STARTUP_FAILED  # the health check's output while the startup probe fails


def _health(c: Container, ports: dict[str, int]) -> list[str]:
    """Liveness wins the one health check docker has; a readiness probe alone becomes it otherwise.
    The loop restarts a container whose liveness check fails, and a service skips an unready one.

    A startupProbe runs first, in the same check: until it has succeeded once (STARTED_MARK) the check runs
    it instead of the liveness or readiness probe, so neither is checked before it, and the container is
    not ready. Docker's start period covers its failureThreshold x periodSeconds (failures then do not
    count); past it the check turns unhealthy with STARTUP_FAILED in its output, and the loop restarts the
    container, as liveness does."""
    main = c.liveness_probe or c.readiness_probe
    start = c.startup_probe
    probe = main or start
    if probe is None:
        return []
    kind = "liveness" if c.liveness_probe else "readiness" if c.readiness_probe else "startup"
    interval = probe.period_seconds or 10
    retries = probe.failure_threshold or 3
    delay = probe.initial_delay_seconds or 0
    cmd = probe_command(probe, ports) if main is not None else "true"
    extra: list[str] = []
    if start is not None:
        budget = (start.initial_delay_seconds or 0) + (start.failure_threshold or 3) * (start.period_seconds or 10)
        delay = max(budget - retries * interval, 0)
        cmd = (f"if [ -e {STARTED_MARK} ]; then {cmd}; "
               f"elif {{ {probe_command(start, ports)}; }}; then : > {STARTED_MARK}; {'true' if main is None else cmd}; "
               f"else echo {shlex.quote(STARTUP_FAILED)}; exit 1; fi")
        extra = ["--label", f"{L.STARTUP}=true"]
    return ["--health-cmd", cmd,
            "--health-interval", f"{interval}s",
            "--health-timeout", f"{probe.timeout_seconds or 1}s",
            "--health-retries", str(retries),
            "--health-start-period", f"{delay}s",
            "--label", f"{L.PROBE}={kind}", *extra]


def pre_stop_label(c: Container, ports: dict[str, int]) -> list[str]:
    """The container's preStop hook as a label (docker_labels.PRE_STOP), read back when the pod is stopped
    (the hosts are the truth: a pod made from an older template keeps its own hook). httpGet becomes a shell
    command run in the container with the nc, wget or curl its image has, as an httpGet probe does."""
    hook = c.lifecycle.pre_stop if c.lifecycle else None
    if hook is None:
        return []
    if hook.sleep is not None:
        value: dict[str, object] = {"sleep": hook.sleep.seconds}
    elif hook.exec is not None:
        value = {"exec": list(hook.exec.command)}
    else:
        value = {"exec": ["sh", "-c", probe_command(Probe(http_get=hook.http_get), ports)]}
    return ["--label", f"{L.PRE_STOP}={json.dumps(value, separators=(',', ':'))}"]


def _resources(c: Container, gpus: Sequence[str]) -> list[str]:
    out: list[str] = []
    limits = (c.resources.limits or {}) if c.resources else {}
    if "cpu" in limits:
        out += ["--cpus", f"{cpu_millis(parse_quantity(limits['cpu'])) / 1000:g}"]
    if "memory" in limits:
        out += ["--memory", str(to_bytes(parse_quantity(limits["memory"])))]
    if gpus and "nvidia.com/gpu" in limits:
        out += ["--gpus", f"device={','.join(gpus)}"]
    return out


def container_env(c: Container, extra: dict[str, str], secrets: dict[str, str] | None = None,
                  fields: dict[str, str] | None = None) -> dict[str, str]:
    """Pod-wide env (service discovery), then the container's own, with secretKeyRef and fieldRef values
    resolved (an optional reference the source lacks is left unset, as Kubernetes does; status.podIP is
    set by the create step, see `pod_ip_vars`)."""
    env = dict(extra)
    for e in c.env or []:
        if e.value_from is None:
            env[e.name] = e.value or ""
        elif secrets and e.name in secrets:
            env[e.name] = secrets[e.name]
        elif fields and e.name in fields:
            env[e.name] = fields[e.name]
    return env


def pod_env(run: PodRun, c: Container) -> dict[str, str]:
    """What a container gets before its own `env`: the pod-wide env (service discovery), then its `envFrom`
    (the container's `env` wins over both, as in Kubernetes)."""
    return {**run.env, **run.env_from.get(c.name, {})}


def env_file(c: Container, extra: dict[str, str], secrets: dict[str, str] | None = None,
             fields: dict[str, str] | None = None) -> str:
    """The container's env as a docker --env-file (written from the batch's stdin, never in argv). The file
    is line-based (and drops a trailing carriage return), so values it would alter are left out here and
    passed by `env_exports` instead (model.text.env_file_safe)."""
    return "".join(f"{k}={v}\n" for k, v in container_env(c, extra, secrets, fields).items() if env_file_safe(k, v))


def env_exports(c: Container, extra: dict[str, str], secrets: dict[str, str] | None = None,
                fields: dict[str, str] | None = None) -> dict[str, str]:
    """Values the env file would alter (a line break, a carriage return, a very long line): exported (from
    the script, read on stdin) into the environment of the docker CLI, which `-e NAME` copies into the
    container whole. Validation keeps such names shell-safe."""
    return {k: v for k, v in container_env(c, extra, secrets, fields).items() if not env_file_safe(k, v)}


# An init container runs to completion once: docker's restart policy retries it only when it fails (with
# docker's back-off), never after it succeeded.
INIT_RESTART = {"Always": "on-failure", "OnFailure": "on-failure", "Never": "no"}
# How long a create (or continue) step waits for each init container to finish before it leaves the rest
# to a later pass (under --watch, the container's exit wakes one at once).
INIT_WAIT = 5


def _container_run(run: PodRun, c: Container, env_path: str, gpus: Sequence[str], cluster: str) -> list[str]:
    ports = {p.name: p.container_port for cc in run.spec.containers for p in cc.ports or [] if p.name}
    inits = [i.name for i in run.spec.init_containers or []]
    policy = run.spec.restart_policy or "Always"
    # A pod with init containers has every container created first (`docker create`) and started in order.
    verb = ["create"] if inits else ["run", "-d"]
    network = (["--hostname", run.name[:63], *_sandbox_labels(run, L.INFRA_SELF), *_ports(run)] if solo(run.spec)
               else ["--network", f"container:{infra_name(run.name)}"])
    argv = ["docker", *verb, "--name", container_name(run.name, c.name), *network,
            "--restart", INIT_RESTART[policy] if c.name in inits else RESTART[policy],
            "--env-file", env_path, *pod_labels(run, c.name, cluster), *_resources(c, gpus), *_health(c, ports),
            *pre_stop_label(c, ports)]
    if c.name in inits:
        argv += ["--label", f"{L.INIT}={inits.index(c.name)}"]
    for name in [*env_exports(c, pod_env(run, c), run.secret_env.get(c.name), run.field_env.get(c.name)), *pod_ip_vars(c)]:
        argv += ["-e", name]
    from orchestrator.model.security import docker_flags  # only for a pod being created

    argv += docker_flags(run.spec.security_context, c.security_context)
    if run.hosts_file:
        argv += ["-v", f"{run.hosts_file}:/etc/hosts:ro"]
    if c.image_pull_policy:
        argv += ["--pull", PULL[c.image_pull_policy]]
    # Values a user wrote are joined to their option with '=', so none can stand where docker parses one,
    # and `--` ends docker's options before the image: nothing after it is read as a flag.
    if c.working_dir:
        argv += [f"--workdir={c.working_dir}"]
    volumes = {v.name: v for v in run.spec.volumes or []}
    for m in c.volume_mounts or []:
        v = volumes[m.name]
        if v.config_source is not None:  # read-only, as Kubernetes mounts them; a subPath binds one file
            source = f"{run.config_dir}/{v.name}" + (f"/{m.sub_path}" if m.sub_path else "")
            argv += [f"--volume={source}:{m.mount_path}:ro"]
            continue
        # a hostPath's subPath is a folder under it, made when missing (docker -v makes it), as the kubelet
        # does; validation refuses a subPath into an emptyDir
        source = (v.host_path.path.rstrip("/") + (f"/{m.sub_path}" if m.sub_path else "") if v.host_path
                  else volume_name(run.uid, v.name))
        argv += [f"--volume={source}:{m.mount_path}" + (":ro" if m.read_only else "")]
    if c.command:
        argv += [f"--entrypoint={c.command[0]}", "--", c.image or ""]
        argv += [*c.command[1:], *(c.args or [])]
    else:
        argv += ["--", c.image or "", *(c.args or [])]
    return argv


def create_pod(run: PodRun, infra_image: str, infra_command: Sequence[str] = (), *, cluster: str) -> Command:
    """One step that creates the whole pod or, when any part fails, removes what it made and fails. Every
    container and volume carries `cluster` (orc.yaml's name), so no other cluster ever counts or removes it."""
    q = shlex.join
    lines = [
        f"orc_undo() {{ docker rm -f {q([infra_name(run.name)] + [container_name(run.name, c.name) for c in run.spec.all_containers])} "
        f">/dev/null 2>&1; docker volume rm $(docker volume ls -q --filter label={L.POD_UID}={shlex.quote(run.uid)}) >/dev/null 2>&1;"
        + (f" rm -rf -- {shlex.quote(run.config_dir)};" if run.config_dir and run.config_volumes else "") + " }",
        "orc_fail() { echo \"$1\" >&2; orc_undo; exit 1; }",
    ]
    if run.config_dir and run.config_volumes:  # the pod's configMap / secret volumes, before its containers
        lines.append(f"mkdir -p {shlex.quote(run.config_dir.rpartition('/')[0])} && mkdir -p -m 0700 "
                     f"{shlex.quote(run.config_dir)} || orc_fail 'config volumes'")
        for cv in run.config_volumes:
            lines += volume_lines(f"{run.config_dir}/{cv.name}", cv, "orc_fail")
    if any(env_exports(c, pod_env(run, c), run.secret_env.get(c.name), run.field_env.get(c.name)) or pod_ip_vars(c)
           for c in run.spec.all_containers):
        lines.append("orc_docker=$(command -v docker) || orc_fail 'docker not found on this host'")
    for v in run.spec.volumes or []:
        if v.empty_dir is not None:
            opts = ["--opt", "type=tmpfs", "--opt", "device=tmpfs"] if v.empty_dir.medium == "Memory" else []
            fs_group = run.spec.security_context.fs_group if run.spec.security_context else None
            if opts and fs_group is not None:  # the pod's fsGroup owns it, group-writable, new files in it too
                opts += ["--opt", f"o=gid={fs_group},mode=2775"]
            lines.append(q(["docker", "volume", "create", "--label", f"{L.POD_UID}={run.uid}", "--label", f"{L.CLUSTER}={cluster}",
                            "--label", f"{L.MANAGED}=true", *opts,
                            volume_name(run.uid, v.name)]) + " >/dev/null || orc_fail 'volume " + v.name + "'")
    if not solo(run.spec):
        infra = ["docker", "run", "-d", "--name", infra_name(run.name), "--hostname", run.name[:63],
                 "--restart", "unless-stopped", *pod_labels(run, "", cluster), *_sandbox_labels(run, "true"),
                 *_ports(run), "--", infra_image, *infra_command]
        lines.append(q(infra) + " >/dev/null || orc_fail 'infra container'")
    if any(pod_ip_vars(c) for c in run.spec.all_containers):  # fieldRef status.podIP: known now, not before
        lines.append("orc_pod_ip=$(docker inspect -f '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}' "
                     f"-- {shlex.quote(infra_name(run.name))}) || orc_fail 'pod IP'")
    lines.append("orc_env=$(mktemp) || orc_fail 'mktemp'")
    for c in run.spec.all_containers:
        secrets = run.secret_env.get(c.name)
        fields = run.field_env.get(c.name)
        data = base64.b64encode(env_file(c, pod_env(run, c), secrets, fields).encode()).decode()
        lines.append(f"printf '%s' {data} | base64 -d > \"$orc_env\" || orc_fail 'env file'" if data
                     else ": > \"$orc_env\"")
        from orchestrator.model.security import effective

        user, _, non_root = effective(run.spec.security_context, c.security_context)
        if non_root and user is None:  # as the kubelet does: refuse an image that would run as root
            lines.append(f"orc_user=$(docker image inspect -f '{{{{.Config.User}}}}' -- {shlex.quote(c.image or '')}) "
                         f"|| orc_fail 'image {c.image} of container {c.name} is not on this host'")
            lines.append(f'case "$orc_user" in ""|0|0:*|root|root:*) orc_fail "container {c.name} has runAsNonRoot '
                         f'and image {c.image} will run as root (set runAsUser)";; esac')
        run_argv = q(_container_run(run, c, "ORC_ENV_FILE", run.gpu_devices, cluster)).replace("ORC_ENV_FILE", '"$orc_env"')
        exports = {**{k: shlex.quote(v) for k, v in env_exports(c, pod_env(run, c), secrets, fields).items()},
                   **{k: '"$orc_pod_ip"' for k in pod_ip_vars(c)}}
        if exports:  # in a subshell, with docker found before PATH could be one of the names
            sets = " ".join(f"{k}={v}" for k, v in exports.items())
            run_argv = f'( {sets}; export {" ".join(exports)}; exec "$orc_docker"{run_argv[len("docker"):]} )'
        lines.append(f"{run_argv} >/dev/null || {{ rm -f \"$orc_env\"; orc_fail 'container {c.name}'; }}")
    lines.append('rm -f "$orc_env"')
    if run.spec.init_containers:  # the pod exists: what the init containers do is its status, not a failure
        lines += _start_in_order(run.name, [c.name for c in run.spec.init_containers],
                                 [c.name for c in run.spec.containers])
    lines.append(f"echo created {shlex.quote(run.name)}")
    allowance = INIT_WAIT * len(run.spec.init_containers or [])
    return sh(f"create pod/{run.name}", "\n".join(lines), allowance=allowance)


def _sandbox_labels(run: PodRun, infra: str) -> list[str]:
    """What the pod's sandbox container carries (its infra container, or a solo pod's one container with
    `infra` "self"): what the snapshot rebuilds the pod from beside its containers' own labels."""
    return ["--label", f"{L.INFRA}={infra}",
            "--label", f"{L.CONTAINERS}={','.join(c.name for c in run.spec.containers)}",
            "--label", f"{L.REQUESTS}={json.dumps(run.requests, sort_keys=True, separators=(',', ':'))}",
            "--label", f"{L.HOST_PORTS}={','.join(f'{p}/{proto}' for p, proto in host_ports(run.spec))}",
            *infra_labels(run.spec),  # orc.port-names / orc.http-check: what services need (proxy.pod_labels)
            *(["--label", f"{L.INIT_CONTAINERS}={','.join(c.name for c in run.spec.init_containers)}"]
              if run.spec.init_containers else []),
            "--label", f"{L.GRACE}={grace_label(run.spec)}",
            "--label", f"{L.GPUS}={','.join(run.gpu_devices)}"]  # the devices it was given (accounting)


def _start_in_order(pod: str, inits: Sequence[str], apps: Sequence[str]) -> list[str]:
    """Shell lines that start a pod's init containers one after the other, each once the one before exited 0
    (waiting up to INIT_WAIT seconds for each), then its app containers. They stop, quietly, at an init
    container that is still running, failed (docker's restart policy retries it) or is being restarted: a
    later pass goes on from there (`continue_pod`)."""
    q = shlex.quote
    return [
        "orc_init() {",
        "  orc_st=$(docker inspect -f '{{.State.Status}} {{.State.ExitCode}}' -- \"$1\") || return 1",
        '  case "$orc_st" in',
        '    "exited 0") return 0;;',
        '    created*) docker start -- "$1" >/dev/null || return 1;;',
        "    running*) ;;",
        "    *) return 1;;",
        "  esac",
        f'  orc_code=$(timeout {INIT_WAIT} docker wait -- "$1") || return 1',
        '  [ "$orc_code" = 0 ]',
        "}",
        " && ".join([*(f"orc_init {q(container_name(pod, n))}" for n in inits),
                     "docker start -- " + " ".join(q(container_name(pod, n)) for n in apps) + " >/dev/null"])
        + " || :",
    ]


def continue_pod(name: str, inits: Sequence[str], apps: Sequence[str]) -> Command:
    """Go on starting a pod whose init containers have not all run yet (see `_start_in_order`)."""
    script = "\n".join([*_start_in_order(name, inits, apps), f"echo continued {shlex.quote(name)}"])
    return sh(f"start pod/{name}", script, allowance=INIT_WAIT * len(inits))


# Kubernetes' default terminationGracePeriodSeconds: SIGTERM, then SIGKILL this many seconds later.
DEFAULT_GRACE = 30
# What docker may take beyond a grace period: the SIGKILL, reaping, reporting (a step's time allowance).
KILL_MARGIN = 10
# A pod's app containers (not its infra container: that only holds the network namespace, and the sleep or
# pause it runs need not handle SIGTERM, so it is removed at once after the apps have stopped).
_APPS = ("--format '{{.ID}} {{.Label \"orc.infra\"}}' | "
         'while read -r id infra; do [ "$infra" = true ] || echo "$id"; done')


def grace_of(seconds: int | None) -> int:
    """A pod's grace period: as its spec (or its infra container's `orc.grace` label) says, else 30 s."""
    return DEFAULT_GRACE if seconds is None else max(int(seconds), 0)


def grace_label(spec: PodSpec) -> str:
    return str(grace_of(spec.termination_grace_period_seconds))


def _hook_lines(hooks: Sequence[PreStop], grace: int) -> list[str]:
    """Run the preStop hooks of a pod's containers, all at once, each cut off at the grace period, and leave
    in `$orc_left` what remains of the grace for the stop that follows (the grace includes the hooks, as in
    Kubernetes)."""
    lines = ["orc_t0=$(date +%s)"]
    for h in hooks:
        run = (["sleep", str(h.sleep)] if h.sleep is not None
               else ["docker", "exec", "--", h.container, *h.exec])
        lines.append(f"timeout {grace} {shlex.join(run)} >/dev/null 2>&1 &")
    lines += ["wait", f'orc_left=$(({grace} - $(date +%s) + orc_t0)); [ "$orc_left" -gt 0 ] || orc_left=0']
    return lines


def delete_pod(name: str, uid: str, grace: int | None = None, *, stopped: bool = False,
               hooks: Sequence[PreStop] = (), config_dir: str | None = None) -> Command:
    """Remove every container and volume of one pod instance (by uid: another instance of the same name on
    this host, if any, is another pod). As Kubernetes does, the app containers get SIGTERM and `grace`
    seconds (default 30) to stop, all at once, then SIGKILL; grace 0 kills at once. Their preStop `hooks`
    run first, within the grace. `stopped`: a parallel stop step of the same batch (`stop_pods`) already gave
    them their grace (and ran their hooks), so this step adds no time."""
    g = grace_of(grace)
    u = shlex.quote(f"label={L.POD_UID}={uid}")
    hook = "\n".join(_hook_lines(hooks, g)) + "\n" if hooks and g and not stopped else ""
    left = '"$orc_left"' if hook else str(g)
    stop = (f"{hook}ids=$(docker ps --filter {u} {_APPS})\n"
            f'[ -z "$ids" ] || docker stop -t {left} $ids >/dev/null 2>&1\n') if g else ""
    config = f"rm -rf -- {shlex.quote(config_dir)}\n" if config_dir else ""
    script = (f"{stop}{config}"
              f"ids=$(docker ps -aq --filter {u}); [ -z \"$ids\" ] || docker rm -f $ids >/dev/null || exit 1\n"
              f"vols=$(docker volume ls -q --filter {u}); [ -z \"$vols\" ] || docker volume rm $vols >/dev/null\n"
              f"echo deleted {shlex.quote(name)}")
    return sh(f"delete pod/{name}", script, allowance=0 if stopped or not g else g + KILL_MARGIN)


def stop_pods(pods: Sequence[tuple[str, str, int | None]],
              hooks: Mapping[str, Sequence[PreStop]] | None = None) -> Command:
    """Give several pods of one host (name, uid, grace) their grace periods at the same time: each pod's app
    containers get `docker stop -t GRACE` in a background job (after the pod's preStop `hooks`, uid -> its
    hooks, within the same grace), and the step waits for all of them. The batch's time limit grows by the
    longest grace period, not their sum. Stopping is best effort: the delete steps that follow remove
    whatever is left."""
    lines = ["orc_stop() {",
             f'  ids=$(docker ps --filter "label={L.POD_UID}=$1" {_APPS})',
             '  [ -z "$ids" ] || docker stop -t "$2" $ids >/dev/null 2>&1',
             "}"]
    for _, uid, grace in pods:
        mine = (hooks or {}).get(uid, ())
        if mine and grace_of(grace):
            lines += ["(", *(f"  {x}" for x in _hook_lines(mine, grace_of(grace))),
                      f'  orc_stop {shlex.quote(uid)} "$orc_left"', ") &"]
        else:
            lines.append(f"orc_stop {shlex.quote(uid)} {grace_of(grace)} &")
    lines += ["wait", "echo stopped " + " ".join(shlex.quote(name) for name, _, _ in pods)]
    longest = max((grace_of(g) for _, _, g in pods), default=0)
    return sh(f"stop {len(pods)} pods", "\n".join(lines), allowance=longest + KILL_MARGIN)


def restart_container(pod: str, container: str, grace: int | None = None, hook: PreStop | None = None) -> Command:
    """Restart one container (its liveness check fails) with the pod's grace period: SIGTERM, then SIGKILL.
    Its preStop hook runs first, within the grace."""
    g = grace_of(grace)
    if hook is not None and g:
        script = "\n".join([*_hook_lines([hook], g),
                            f'docker restart -t "$orc_left" -- {shlex.quote(container)} >/dev/null'])
        return sh(f"restart pod/{pod} {container}", script, allowance=g + KILL_MARGIN)
    return Command(name=f"restart pod/{pod} {container}", argv=("docker", "restart", "-t", str(g), "--", container),
                   allowance=g + KILL_MARGIN)
