"""The steps the engine sends, answered as a docker host would: the probe's commands answered in the formats
their parsers read, the act steps (`create pod/...`, `delete pod/...`, restarts, removals, proxy deploys)
interpreted line by line against a `DockerHost`.

Strict by design: a step name without a handler, a script line no pattern knows, or a `docker run` option
not in RUN_OPTIONS raises HarnessError naming it (the harness turns that into a failed test), so the harness
never answers "exit 0" for something it did not understand. To support a new step, add a handler to STEPS
(exact name) or PREFIXES; to support a new script line, add a pattern to the interpreter of that step.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import shlex
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from orchestrator.commands.base import Command
from orchestrator.proxy.state import NOT_ZOMBIE
from orchestrator.transport.base import StepResult
from tests.harness.docker import Container, DockerHost, Health, label_matches

DEAD = "Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?"


class HarnessError(AssertionError):
    """The harness met something it does not simulate: extend it rather than guess."""


class ControllerKilled(BaseException):  # noqa: N818 - not an error of the code under test: an event
    """The controller died mid-pass (SIGKILL): raised through the engine, which neither catches it nor
    writes its book, as a killed process would not."""


def normalize(image: str) -> str:
    """As `docker images` lists it: `nginx` is `nginx:latest`."""
    last = image.rsplit("/", 1)[-1]
    return image if ":" in last or "@" in last else f"{image}:latest"


@dataclass
class Out:
    code: int = 0
    stdout: list[str] = field(default_factory=list)
    stderr: list[str] = field(default_factory=list)

    def result(self, name: str) -> StepResult:
        text = lambda lines: "".join(x if x.endswith("\n") else x + "\n" for x in lines)  # noqa: E731
        return StepResult(name, self.code, text(self.stdout), text(self.stderr))


def _require(step: Command, *fragments: str) -> str:
    text = step.render()
    for f in fragments:
        if f not in text:
            raise HarnessError(f"step {step.name!r}: its text no longer contains {f!r}, which the harness "
                               f"answers; update tests/harness/steps.py to the new command:\n{text}")
    return text


# -- the probe -------------------------------------------------------------------------------------


def probe_system(h: DockerHost, step: Command, ctx: Context) -> Out:
    _require(step, "hostname", "uname -m", "uname -r", "nproc", "/etc/os-release", "/proc/meminfo")
    kb = h.memory // 1024
    return Out(0, [f"hostname={h.name}", "arch=x86_64", "kernel=6.1.0-harness", f"cpus={h.cpus}",
                   "os=Debian GNU/Linux 12 (bookworm)", f"MemTotal={kb}", f"MemAvailable={kb * 3 // 4}"])


def probe_docker(h: DockerHost, step: Command, ctx: Context) -> Out:
    _require(step, "docker info --format '{{.ServerVersion}}|{{.DockerRootDir}}'", "df -Pk", "rotational")
    disk = [f"df={h.disk_total // 1024} {h.disk_free // 1024} /dev/vda1", "rotational=0"]
    if not h.docker_alive:
        return Out(1, [f"docker_error={DEAD}", *disk])
    return Out(0, [f"docker={h.docker_version}|/var/lib/docker", *disk])


def probe_gpus(h: DockerHost, step: Command, ctx: Context) -> Out:
    _require(step, "nvidia-smi -L")
    return Out(0, [f"GPU {i}: {model} (UUID: {uuid})" for i, (model, uuid) in enumerate(h.gpus)])


def probe_containers(h: DockerHost, step: Command, ctx: Context) -> Out:
    """The inspect-everything step (probe.CONTAINERS) or the light one (probe.containers_step): the host's
    time, `docker ps` rows, and `docker inspect` of the rows whose `|ID KEY|` the step's `known` lacks."""
    text = step.render()
    light = "--format 'ps {{.ID}} {{.Status}}'" in text
    if light:
        _require(step, 'echo "now=$(date +%s)"', "docker ps -a --no-trunc", "|| exit 3",
                 "docker inspect --format '{{json .}}' $ids", 'case "$known" in *"|$id $n|"*)')
        m = re.search(r"docker ps -a --no-trunc((?: --filter [^\s)]+)+) --format", text)
        k = re.search(r"^known=(.*)$", text, re.M)
        if k is None:
            raise HarnessError(f"step {step.name!r}: no `known=` line to answer:\n{text}")
        known = shlex.split(k.group(1))[0] if k.group(1) else ""
    else:
        _require(step, "docker ps -aq --no-trunc", "docker inspect --format '{{json .}}'", "|| exit 3")
        m = re.search(r"docker ps -aq --no-trunc((?: --filter [^\s)]+)+)", text)
    if m is None:
        raise HarnessError(f"step {step.name!r}: no `docker ps ... --filter ...` to answer:\n{text}")
    filters = [shlex.split(f)[0] for f in m.group(1).split(" --filter ") if f.strip()]
    now = ctx.clock()
    if not h.docker_alive:
        return Out(3, [f"now={int(now)}"] if light else [], [DEAD])
    found = sorted(h.matching(filters), key=lambda c: c.created, reverse=True)  # `docker ps`: newest first
    if not light:
        return Out(0, [json.dumps(c.inspect(now)) for c in found])
    from orchestrator.observe.container_cache import ps_key

    rows = [(c, c.ps_status(now)) for c in found]
    out = [f"now={int(now)}", *(f"ps {c.id} {status}" for c, status in rows)]
    out += [json.dumps(c.inspect(now)) for c, status in rows if f"|{c.id} {ps_key(status)}|" not in known]
    return Out(0, out)


def inspect(h: DockerHost, step: Command, ctx: Context) -> Out:
    """probe.inspect_step: `docker inspect --format '{{json .}}' -- ID...` (a missing one is skipped)."""
    argv = list(step.argv)
    if argv[:5] != ["docker", "inspect", "--format", "{{json .}}", "--"]:
        raise HarnessError(f"step {step.name!r}: not the `docker inspect` the harness knows: {argv}")
    by_id = {c.id: c for c in h.containers.values()}
    now = ctx.clock()
    return Out(0, [json.dumps(by_id[i].inspect(now)) for i in argv[5:] if i in by_id])


def probe_images(h: DockerHost, step: Command, ctx: Context) -> Out:
    _require(step, "docker images --format '{{.Repository}}:{{.Tag}}'")
    if not h.docker_alive:
        return Out(1)
    return Out(0, sorted(h.images))


def image_inspect(h: DockerHost, step: Command, ctx: Context) -> Out:
    argv = list(step.argv)
    if argv[:5] != ["docker", "image", "inspect", "--format", "{{.Id}}"] or argv[5] != "--" or len(argv) != 7:
        raise HarnessError(f"step {step.name!r}: not the `docker image inspect` the harness knows: {argv}")
    if not h.docker_alive:
        return Out(1, [], [DEAD])
    image = normalize(argv[6])
    if image not in h.images:
        return Out(1, [], [f"Error: No such image: {argv[6]}"])
    return Out(0, ["sha256:" + hashlib.sha256(image.encode()).hexdigest()])


# -- shell lines -----------------------------------------------------------------------------------


def logical_lines(script: str) -> Iterator[str]:
    """The script's lines, a line continued while a quote is open (a multi-line value in an export)."""
    buf: list[str] = []
    for line in script.split("\n"):
        buf.append(line)
        joined = "\n".join(buf)
        try:
            shlex.split(joined)
        except ValueError:
            continue
        yield joined
        buf = []
    if buf:
        raise HarnessError(f"unterminated quote in script:\n{script}")


def _word(text: str) -> str:
    (w,) = shlex.split(text)
    return w


class ShellExit(Exception):
    def __init__(self, code: int):
        self.code = code


Handler = Callable[[re.Match[str]], None]


def interpret(step: Command, patterns: list[tuple[str, Handler]], out: Out) -> Out:
    """Run each logical line of the step's script through the first pattern that matches it in full;
    a line none matches is a HarnessError naming it."""
    compiled = [(re.compile(p, re.DOTALL), fn) for p, fn in patterns]
    try:
        for line in logical_lines(step.render()):
            if not line.strip():
                continue
            for rx, fn in compiled:
                m = rx.fullmatch(line)
                if m:
                    fn(m)
                    break
            else:
                raise HarnessError(f"step {step.name!r}: the harness does not know the line {line!r}; add a "
                                   "pattern for it in tests/harness/steps.py")
    except ShellExit as e:
        out.code = e.code
    return out


# -- docker run ------------------------------------------------------------------------------------

# `docker run` options the builders use, with a value; anything else is refused by name.
RUN_OPTIONS = {"--name", "--network", "--restart", "--env-file", "--label", "--hostname", "-p", "--publish",
               "-e", "--env", "-v", "--volume", "--cpus", "--memory", "--gpus", "--pull", "--health-cmd",
               "--health-interval", "--health-timeout", "--health-retries", "--health-start-period",
               "--workdir", "--entrypoint"}
RUN_FLAGS = {"-d", "--detach"}


@dataclass
class RunSpec:
    image: str = ""
    args: list[str] = field(default_factory=list)
    opts: list[tuple[str, str]] = field(default_factory=list)

    def get(self, opt: str, default: str | None = None) -> str | None:
        values = [v for o, v in self.opts if o == opt]
        return values[-1] if values else default

    def all(self, *opts: str) -> list[str]:
        return [v for o, v in self.opts if o in opts]


def parse_run(argv: list[str]) -> RunSpec:
    """`docker run` words: options (`--opt value` and `--opt=value`), `--`, the image, its arguments."""
    if argv[:2] not in (["docker", "run"], ["docker", "create"]):
        raise HarnessError(f"not a docker run: {argv}")
    spec = RunSpec()
    i = 2
    while i < len(argv):
        a = argv[i]
        if a == "--":
            spec.image, spec.args = argv[i + 1], argv[i + 2:]
            return spec
        if not a.startswith("-"):
            spec.image, spec.args = a, argv[i + 1:]
            return spec
        if a in RUN_FLAGS:
            i += 1
            continue
        opt, eq, value = a.partition("=")
        if opt not in RUN_OPTIONS:
            raise HarnessError(f"docker run option {opt!r} is not simulated: add it to RUN_OPTIONS in "
                               f"tests/harness/steps.py (and honour it in docker_run)")
        if not eq:
            value = argv[i + 1]
            i += 1
        spec.opts.append((opt, value))
        i += 1
    raise HarnessError(f"docker run without an image: {argv}")


def _seconds(text: str) -> float:
    m = re.fullmatch(r"(\d+(?:\.\d+)?)(ms|s|m)?", text)
    if m is None:
        raise HarnessError(f"duration {text!r} is not simulated")
    return float(m.group(1)) * {"ms": 0.001, "s": 1, "m": 60, None: 1}[m.group(2)]


def _env_file(text: str) -> dict[str, str]:
    env = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            k, _, v = line.partition("=")
            env[k] = v
    return env


def docker_run(h: DockerHost, ctx: Context, argv: list[str], env_files: dict[str, str],
               exported: dict[str, str]) -> str | None:
    """Create and start a container as `docker run -d` would (`docker create`: create it only); the error
    text docker prints, or None."""
    spec = parse_run(argv)
    start = argv[1] == "run"
    if not h.docker_alive:
        return f"docker: {DEAD}"
    name = spec.get("--name") or f"auto_{h.new_id('auto')[:12]}"
    if name in h.containers:
        return (f'docker: Error response from daemon: Conflict. The container name "/{name}" is already in use '
                f'by container "{h.containers[name].id}". You have to remove (or rename) that container to be '
                "able to reuse that name.")
    image = normalize(spec.image)
    injected = h.fail_runs.get(image)
    if injected:
        message = injected.pop(0)
        if not injected:
            del h.fail_runs[image]
        return f"docker: Error response from daemon: {message}"
    pull = spec.get("--pull", "missing")
    if image not in h.images or pull == "always":
        if pull == "never" and image not in h.images:
            return f"docker: Error response from daemon: No such image: {image}"
        if image not in ctx.registry:
            repo = image.rsplit(":", 1)[0]
            return (f"Unable to find image '{image}' locally\ndocker: Error response from daemon: pull access "
                    f"denied for {repo}, repository does not exist or may require 'docker login'")
        h.images.add(image)
    network = spec.get("--network", "bridge") or "bridge"
    if network.startswith("container:"):
        target = h.containers.get(network[len("container:"):])
        if target is None:
            return f"docker: Error response from daemon: No such container: {network[len('container:'):]}"
        if not target.running:
            return "docker: Error response from daemon: cannot join network namespace of a non running container"
    env: dict[str, str] = {}
    for f in spec.all("--env-file"):
        if f not in env_files:
            return f"docker: open {f}: no such file or directory"
        env.update(_env_file(env_files[f]))
    for e in spec.all("-e", "--env"):
        k, eq, v = e.partition("=")
        if eq:
            env[k] = v
        elif k in exported:
            env[k] = exported[k]
    labels = {}
    for item in spec.all("--label"):
        k, _, v = item.partition("=")
        labels[k] = v
    health = None
    if spec.get("--health-cmd") is not None:
        health = Health(cmd=spec.get("--health-cmd") or "", interval=_seconds(spec.get("--health-interval", "30s") or "30s"),
                        retries=int(spec.get("--health-retries", "3") or 3),
                        start_period=_seconds(spec.get("--health-start-period", "0s") or "0s"),
                        passing=ctx.health_passing(spec.image))
    now = ctx.clock()
    c = Container(id=h.new_id(name), name=name, image=spec.image, labels=labels, created=now,
                  restart_policy=spec.get("--restart", "no") or "no", network=network,
                  hostname=spec.get("--hostname", "") or "", command=tuple(spec.args),
                  entrypoint=spec.get("--entrypoint"), env=env, mounts=tuple(spec.all("-v", "--volume")),
                  publish=tuple(spec.all("-p", "--publish")), gpus=spec.get("--gpus", "") or "", health=health)
    h.containers[name] = c
    return start_container(h, c, now) if start else None


def start_container(h: DockerHost, c: Container, now: float) -> str | None:
    """`docker start` of a container made (by `docker run`, or `docker create` before); the error, or None."""
    name, network = c.name, c.network
    for m in c.mounts:  # a named volume is created on first use, as docker does
        source = m.split(":", 1)[0]
        if not source.startswith("/"):
            h.volumes.setdefault(source, {})
    bound = h.bound_ports()
    ports: dict[str, list[tuple[str, int]]] = {}
    for p in c.publish:
        parts = p.split(":")
        cport = parts[-1] if "/" in parts[-1] else parts[-1] + "/tcp"
        ip = parts[0] if len(parts) == 3 else "0.0.0.0"
        hp = int(parts[-2]) if len(parts) >= 2 and parts[-2] else None
        if hp is not None and hp in bound:
            # docker created the container, then failed to start it
            return (f"docker: Error response from daemon: driver failed programming external connectivity on "
                    f"endpoint {name} ({c.id}): Bind for {ip}:{hp} failed: port is already allocated.")
        ports.setdefault(cport, []).append((ip, hp if hp is not None else h.new_port()))
        bound.add(ports[cport][-1][1])
    c.ports = ports
    c.state, c.started = "running", now
    if not network.startswith("container:"):
        c.ip = h.new_ip()
    return None


# -- init containers -------------------------------------------------------------------------------

# The shell function commands/pod.py `_start_in_order` defines, line by line (any change fails the harness).
INIT_FUNCTION = [
    "orc_init() {",
    "  orc_st=$(docker inspect -f '{{.State.Status}} {{.State.ExitCode}}' -- \"$1\") || return 1",
    '  case "$orc_st" in',
    '    "exited 0") return 0;;',
    '    created*) docker start -- "$1" >/dev/null || return 1;;',
    "    running*) ;;",
    "    *) return 1;;",
    "  esac",
    '  orc_code=$(timeout 5 docker wait -- "$1") || return 1',
    '  [ "$orc_code" = 0 ]',
    "}",
]
INIT_CHAIN = r"((?:orc_init \S+ && )+)docker start -- (.+?) >/dev/null \|\| :"


def run_init(h: DockerHost, c: Container, ctx: Context) -> None:
    """One run of an init container, to the end the scenario set (`Context.init_exits`, default exit 0;
    None: still running after the create step's wait). A failed one that docker retries (`on-failure`) is
    left restarting, as docker's back-off has it."""
    now = ctx.clock()
    c.state, c.started = "running", now
    plan = ctx.init_exits.get(c.name)
    code = plan.pop(0) if plan else 0
    if code is None:
        return
    c.exit_code, c.finished = code, now
    c.state = "restarting" if code and c.restart_policy == "on-failure" else "exited"


def init_chain(h: DockerHost, ctx: Context, m: re.Match[str]) -> None:
    """`orc_init A && orc_init B && docker start -- APPS >/dev/null || :` as the shell would run it."""
    if not h.docker_alive:
        return
    for name in re.findall(r"orc_init (\S+) && ", m.group(1)):
        c = h.containers.get(_word(name))
        if c is None:
            return
        if c.state == "created":
            run_init(h, c, ctx)
        if not (c.state == "exited" and c.exit_code == 0):
            return  # running past the wait, failed, or being restarted: a later pass goes on
    for name in shlex.split(m.group(2)):
        c = h.containers.get(name)
        if c is not None and c.state == "created":
            start_container(h, c, ctx.clock())


def init_patterns(h: DockerHost, ctx: Context) -> list[tuple[str, Handler]]:
    return [*((re.escape(line), lambda m: None) for line in INIT_FUNCTION),
            (INIT_CHAIN, lambda m: init_chain(h, ctx, m))]


def continue_pod(h: DockerHost, step: Command, ctx: Context) -> Out:
    """`start pod/NAME` (commands/pod.py continue_pod): the init chain again."""
    out = Out()
    patterns = [*init_patterns(h, ctx),
                (r"echo continued (\S+)", lambda m: out.stdout.append(f"continued {_word(m.group(1))}"))]
    return interpret(step, patterns, out)


# -- preStop hooks ---------------------------------------------------------------------------------


def hook_patterns(h: DockerHost, st: dict[str, str], indent: str = "") -> list[tuple[str, Handler]]:
    """The lines of commands/pod.py `_hook_lines`: each hook is recorded on the host (`hooks_run`) when its
    container runs; `$orc_left` is the whole grace (no time passes in the harness)."""
    def exec_hook(m: re.Match[str]) -> None:
        c = h.containers.get(m.group(2))
        if h.docker_alive and c is not None and c.running:
            h.hooks_run.append((c.name, tuple(shlex.split(m.group(3)))))

    return [
        (indent + r"orc_t0=\$\(date \+%s\)", lambda m: None),
        (indent + r"timeout (\d+) docker exec -- (\S+) (.+) >/dev/null 2>&1 &", exec_hook),
        (indent + r"timeout (\d+) sleep (\d+) >/dev/null 2>&1 &",
         lambda m: h.hooks_run.append(("", ("sleep", m.group(2))))),
        (indent + r"wait", lambda m: None),
        (indent + r'orc_left=\$\(\((\d+) - \$\(date \+%s\) \+ orc_t0\)\); \[ "\$orc_left" -gt 0 \] \|\| orc_left=0',
         lambda m: st.update(left=m.group(1))),
    ]


# -- create pod/... --------------------------------------------------------------------------------


def create_pod(h: DockerHost, step: Command, ctx: Context, killed_after_runs: int | None = None) -> Out:
    """The create script. With `killed_after_runs`, the shell dies after that many `docker run`s succeeded
    (the controller's connection dropped): no undo runs, ControllerKilled is raised."""
    out = Out()
    undo: dict[str, object] = {"names": [], "volumes": None}
    env_files: dict[str, str] = {}
    created: list[str] = []

    def fail(message: str) -> None:
        out.stderr.append(message)
        if h.docker_alive:
            for n in undo["names"]:  # type: ignore[attr-defined]
                h.containers.pop(n, None)
            vf = undo["volumes"]
            for v in [v for v, labels in h.volumes.items() if vf and label_matches(labels, str(vf))]:
                del h.volumes[v]
        raise ShellExit(1)

    def or_fail(error: str | None, tail: str) -> None:
        if error is not None:
            out.stderr.append(error)
            m = re.fullmatch(r"orc_fail ('[^']*')|\{ rm -f \"\$orc_env\"; orc_fail ('[^']*'); \}", tail)
            if m is None:
                raise HarnessError(f"step {step.name!r}: unknown failure handler {tail!r}")
            fail(_word(m.group(1) or m.group(2)))

    def set_undo(m: re.Match[str]) -> None:
        undo["names"] = shlex.split(m.group(1))
        undo["volumes"] = _word(m.group(2))

    def volume(m: re.Match[str]) -> None:
        argv = shlex.split(m.group(1))
        if argv[:3] != ["docker", "volume", "create"]:
            raise HarnessError(f"step {step.name!r}: not a volume create: {argv}")
        labels, i, name = {}, 3, ""
        while i < len(argv):
            if argv[i] in ("--label", "--opt"):
                if argv[i] == "--label":
                    k, _, v = argv[i + 1].partition("=")
                    labels[k] = v
                i += 2
            elif argv[i].startswith("-"):
                raise HarnessError(f"docker volume create option {argv[i]!r} is not simulated")
            else:
                name = argv[i]
                i += 1
        or_fail(None if h.docker_alive else f"docker: {DEAD}", m.group(2))
        h.volumes.setdefault(name, labels)

    def run(m: re.Match[str]) -> None:
        argv = [w.replace("$orc_env", "ORC_ENV") for w in shlex.split(m.group(1))]
        or_fail(docker_run(h, ctx, argv, env_files, {}), m.group(2))
        created.append(argv[argv.index("--name") + 1])
        if killed_after_runs is not None and len(created) >= killed_after_runs:
            raise ControllerKilled(f"{h.name}: killed during {step.name} after {len(created)} docker runs")

    def run_exported(m: re.Match[str]) -> None:
        sets = dict(w.split("=", 1) for w in shlex.split(m.group(1)))
        names = m.group(2).split()
        argv = ["docker", "run", *[w.replace("$orc_env", "ORC_ENV") for w in shlex.split(m.group(3))]]
        or_fail(docker_run(h, ctx, argv, env_files, {k: sets[k] for k in names}), m.group(4))
        created.append(argv[argv.index("--name") + 1])
        if killed_after_runs is not None and len(created) >= killed_after_runs:
            raise ControllerKilled(f"{h.name}: killed during {step.name} after {len(created)} docker runs")

    def env_data(m: re.Match[str]) -> None:
        env_files["ORC_ENV"] = base64.b64decode(m.group(1)).decode()

    def env_empty(m: re.Match[str]) -> None:
        env_files["ORC_ENV"] = ""

    def echo(m: re.Match[str]) -> None:
        out.stdout.append(f"created {_word(m.group(1))}")

    patterns: list[tuple[str, Handler]] = [
        (r"orc_undo\(\) \{ docker rm -f (.+?) >/dev/null 2>&1; docker volume rm \$\(docker volume ls -q "
         r"--filter (\S+)\) >/dev/null 2>&1; \}", set_undo),
        (r'orc_fail\(\) \{ echo "\$1" >&2; orc_undo; exit 1; \}', lambda m: None),
        (r"orc_docker=\$\(command -v docker\) \|\| orc_fail 'docker not found on this host'", lambda m: None),
        (r"(docker volume create .+?) >/dev/null \|\| (orc_fail .+)", volume),
        (r"orc_env=\$\(mktemp\) \|\| orc_fail 'mktemp'", env_empty),
        (r"printf '%s' ([A-Za-z0-9+/=]+) \| base64 -d > \"\$orc_env\" \|\| orc_fail 'env file'", env_data),
        (r': > "\$orc_env"', env_empty),
        (r"(docker (?:run|create) .+?) >/dev/null \|\| (orc_fail '[^']*'|\{ rm -f \"\$orc_env\"; orc_fail '[^']*'; \})",
         run),
        (r"\( (.+); export ([^;]+); exec \"\$orc_docker\" run (.+?) \) >/dev/null \|\| "
         r"(\{ rm -f \"\$orc_env\"; orc_fail '[^']*'; \})", run_exported),
        (r'rm -f "\$orc_env"', lambda m: None),
        *init_patterns(h, ctx),
        (r"echo created (\S+)", echo),
    ]
    return interpret(step, patterns, out)


# -- delete pod/..., restart, remove ---------------------------------------------------------------


def delete_pod(h: DockerHost, step: Command, ctx: Context) -> Out:
    out = Out()
    now = ctx.clock()

    def ids(filter_: str, running_only: bool) -> list[Container]:
        return h.matching([_word(filter_)], running_only) if h.docker_alive else []

    def stop(m: re.Match[str]) -> None:
        for c in ids(state["running"], True):  # the ids the line before listed: the running ones
            if state.get("apps") and c.labels.get("orc.infra") == "true":
                continue  # the listing kept the app containers only
            grace = state["left"] if m.group(1) == '"$orc_left"' else m.group(1)
            c.state, c.exit_code, c.finished, c.stop_grace = "exited", 0, now, int(grace)

    def remove(m: re.Match[str]) -> None:
        for c in ids(m.group(1), False):
            del h.containers[c.name]

    def volumes(m: re.Match[str]) -> None:
        if h.docker_alive:
            for v in [v for v, labels in h.volumes.items() if label_matches(labels, _word(m.group(1)))]:
                del h.volumes[v]

    state: dict[str, str] = {}
    patterns: list[tuple[str, Handler]] = [
        (r"ids=\$\(docker ps -q --filter (\S+)\)", lambda m: state.update(running=m.group(1))),
        (r"ids=\$\(docker ps --filter (\S+) --format '\{\{\.ID\}\} \{\{\.Label \"orc\.infra\"\}\}' \| "
         r'while read -r id infra; do \[ "\$infra" = true \] \|\| echo "\$id"; done\)',
         lambda m: state.update(running=m.group(1), apps="1")),
        *hook_patterns(h, state),
        (r'\[ -z "\$ids" \] \|\| docker stop -t (\d+|"\$orc_left") \$ids >/dev/null 2>&1', stop),
        (r'ids=\$\(docker ps -aq --filter (\S+)\); \[ -z "\$ids" \] \|\| docker rm -f \$ids >/dev/null \|\| exit 1',
         remove),
        (r'vols=\$\(docker volume ls -q --filter (\S+)\); \[ -z "\$vols" \] \|\| docker volume rm \$vols >/dev/null',
         volumes),
        (r"echo deleted (\S+)", lambda m: out.stdout.append(f"deleted {_word(m.group(1))}")),
    ]
    return interpret(step, patterns, out)


def _argv(step: Command, head: list[str]) -> list[str]:
    argv = list(step.argv)
    if argv[: len(head)] != head:
        raise HarnessError(f"step {step.name!r}: expected {shlex.join(head)} ..., got {step.render()!r}")
    return argv[len(head):]


def restart(h: DockerHost, step: Command, ctx: Context) -> Out:
    if step.shell is not None:  # the container's preStop hook first (commands/pod.py restart_container)
        st: dict[str, str] = {}
        out = Out()

        def restart_line(m: re.Match[str]) -> None:
            c = h.containers.get(m.group(1))
            if not h.docker_alive or c is None:
                raise ShellExit(1)
            now = ctx.clock()
            c.state, c.exit_code, c.started, c.finished = "running", 0, now, now

        return interpret(step, [*hook_patterns(h, st),
                                (r'docker restart -t "\$orc_left" -- (\S+) >/dev/null', restart_line)], out)
    rest = _argv(step, ["docker", "restart"])
    if len(rest) != 4 or rest[0] != "-t" or not rest[1].isdigit() or rest[2] != "--":
        raise HarnessError(f"step {step.name!r}: not the `docker restart -t N -- NAME` the harness knows")
    if not h.docker_alive:
        return Out(1, [], [DEAD])
    c = h.containers.get(rest[3])
    if c is None:
        return Out(1, [], [f"Error response from daemon: No such container: {rest[3]}"])
    now = ctx.clock()
    c.state, c.exit_code, c.started, c.finished = "running", 0, now, now  # `docker restart` keeps RestartCount
    return Out(0, [rest[3]])


def remove(h: DockerHost, step: Command, ctx: Context) -> Out:
    rest = _argv(step, ["docker", "rm", "-f", "--"])
    if not h.docker_alive:
        return Out(1, [], [DEAD])
    for name in rest:
        h.containers.pop(name, None)  # `rm -f` of a missing container is not an error
    return Out(0, rest)


# -- the proxy -------------------------------------------------------------------------------------


def proxy_state(h: DockerHost, step: Command, ctx: Context) -> Out:
    text = step.render()
    marked = r"if \[ -r (\S+) \]; then printf '{0}='; sha256sum < \S+; IFS= read -r mark < \S+; " \
             r"printf '{0}-mark=%s\\n' \"\$mark\";( serving=1;)? fi"
    cfg = re.search(marked.format("config"), text)
    hosts = re.search(marked.format("hosts"), text)
    pidfile = re.search(r"read -r pid < (\S+) 2>/dev/null", text)
    # The harness's hosts listen on nothing but their HAProxy's node ports (not simulated: no listeners).
    _require(step, f'[ "$comm" = haproxy ] && {NOT_ZOMBIE} && echo "pid=$pid"', "ip -4 -o addr show dev lo 2>/dev/null",
             '  while read -r _ local _ st _; do [ "$st" = 0A ] && echo "listen=${local##*:}"; done < $f')
    if not (cfg and hosts and pidfile):
        raise HarnessError(f"step {step.name!r}: the harness cannot find the config, hosts file or pidfile in:\n{text}")
    serving = re.search(r"^serving=([01])$", text, re.MULTILINE)
    if serving is None or "[ $serving = 1 ] || exit 0" not in text:
        raise HarnessError(f"step {step.name!r}: the harness cannot find whether the host serves in:\n{text}")
    out = Out()
    for key, path in (("config", _word(cfg.group(1))), ("hosts", _word(hosts.group(1)))):
        if path in h.files:
            out.stdout.append(f"{key}={hashlib.sha256(h.files[path]).hexdigest()}  -")
            out.stdout.append(f"{key}-mark={h.files[path].decode(errors='replace').partition(chr(10))[0]}")
    if serving.group(1) == "0" and _word(cfg.group(1)) not in h.files:
        return out  # no HAProxy to run here and no config: the script stops after the hosts file
    pid = h.haproxy_pid(_word(pidfile.group(1)))
    if pid is not None:
        out.stdout.append(f"pid={pid}")
    out.stdout.append("1: lo    inet 127.0.0.1/8 scope host lo\\       valid_lft forever preferred_lft forever")
    for ip, label in sorted(h.addresses.items()):
        out.stdout.append(f"1: lo    inet {ip}/32 scope global {label}\\       valid_lft forever preferred_lft forever")
    return out


def proxy_hosts(h: DockerHost, step: Command, ctx: Context) -> Out:
    out = Out()
    data = step.stdin or b""
    patterns: list[tuple[str, Handler]] = [
        (r'mkdir -p "\$\(dirname \S+\)" \|\| exit 1', lambda m: None),
        (r"tmp=\$\(mktemp \S+\) \|\| exit 1", lambda m: None),
        (r'cat > "\$tmp" \|\| \{ rm -f "\$tmp"; exit 1; \}', lambda m: None),
        (r'if \[ -f (\S+) \]; then cat "\$tmp" > \S+; rc=\$\?; rm -f "\$tmp"; exit \$rc; fi',
         lambda m: _write_in_place(h, _word(m.group(1)), data)),
        (r'chmod 0644 "\$tmp" && mv -f "\$tmp" (\S+)', lambda m: h.files.__setitem__(_word(m.group(1)), data)),
    ]
    return interpret(step, patterns, out)


def _write_in_place(h: DockerHost, path: str, data: bytes) -> None:
    if path in h.files:
        h.files[path] = data
        raise ShellExit(0)


def proxy_deploy(h: DockerHost, step: Command, ctx: Context) -> Out:
    out = Out()
    st: dict[str, object] = {"tmp": None, "skip": False, "running": None, "branch": None, "rc": 0}

    def add(m: re.Match[str]) -> None:  # `ip addr replace` takes the address whatever label it had
        h.addresses[_word(m.group(1)).removesuffix("/32")] = _word(m.group(2))

    def drop(m: re.Match[str]) -> None:
        ip, label = _word(m.group(1)).removesuffix("/32"), _word(m.group(2))
        if h.addresses.get(ip) == label:
            del h.addresses[ip]
        else:
            st["rc"] = 2  # RTNETLINK answers: Cannot assign requested address

    def backup(m: re.Match[str]) -> None:
        if _word(m.group(1)) not in h.files:
            h.files[_word(m.group(1))] = h.files[_word(m.group(2))]

    def check(m: re.Match[str]) -> None:
        if h.haproxy_rejects is not None:
            out.stderr.append(h.haproxy_rejects)
            out.stderr.append("haproxy rejected the new config (harness)")
            raise ShellExit(1)
        st["skip"] = True  # the failure branch up to `fi` does not run

    def moved(m: re.Match[str]) -> None:
        h.files[_word(m.group(1))] = st["tmp"]  # type: ignore[assignment]
        st["config"] = _word(m.group(1))

    def running_test(m: re.Match[str]) -> None:
        st["pidfile"] = _word(m.group(1))
        st["running"] = h.haproxy_pid(str(st["pidfile"])) is not None
        st["branch"] = "then"

    def reload(m: re.Match[str]) -> None:
        if st["running"]:
            h.haproxy_reloads += 1
            h.haproxy_loaded = h.files.get(str(st.get("config") or ""), h.haproxy_loaded)
            out.stdout.append("reloaded")

    def start(m: re.Match[str]) -> None:
        if not st["running"]:
            pid = h.new_pid()
            h.procs[pid] = "haproxy"
            h.files[str(st["pidfile"])] = f"{pid}\n".encode()
            h.haproxy_loaded = h.files.get(str(st.get("config") or ""), h.haproxy_loaded)
            out.stdout.append("started")

    def fail_branch(m: re.Match[str]) -> None:
        if not st["skip"]:
            raise HarnessError(f"step {step.name!r}: line {m.group(0)!r} outside the check's failure branch")

    def fi(m: re.Match[str]) -> None:
        st["skip"] = False
        st["branch"] = None

    def rc_exit(m: re.Match[str]) -> None:
        raise ShellExit(int(st["rc"]))  # type: ignore[call-overload]

    patterns: list[tuple[str, Handler]] = [
        (r"rc=0", lambda m: None),
        (r"ip addr replace (\S+) dev lo label (\S+) \|\| \{ echo .+ >&2; exit 1; \}", add),
        (r"\[ -e (\S+) \] \|\| cp -p (\S+) \S+ \|\| exit 1", backup),
        (r"mkdir -p .+ \|\| exit 1", lambda m: None),
        (r"tmp=\$\(mktemp \S+\) \|\| exit 1", lambda m: st.update(tmp=step.stdin or b"")),
        (r'cat > "\$tmp" \|\| \{ rm -f "\$tmp"; exit 1; \}', lambda m: None),
        (r'if ! out=\$\(.+ "\$tmp" 2>&1\); then', check),
        (r"  printf '%s\\n' \"\$out\" >&2", fail_branch),
        (r"  echo .+ >&2", fail_branch),
        (r'  rm -f "\$tmp"; exit 1', fail_branch),
        (r'chmod 0644 "\$tmp" && mv -f "\$tmp" (\S+) \|\| \{ rm -f "\$tmp"; exit 1; \}', moved),
        (r'if pid=\$\(head -n 1 (\S+) 2>/dev/null\); \[ -n "\$pid" \] && grep -qx haproxy "/proc/\$pid/comm" '
         r"2>/dev/null && " + re.escape(NOT_ZOMBIE) + "; then", running_test),
        (r"  .+ \|\| exit 1; echo reloaded", reload),
        (r"  :", lambda m: None),
        (r"else", lambda m: st.update(branch="else")),
        (r"  .+ </dev/null >/dev/null \|\| exit 1; echo started", start),
        (r"fi", fi),
        (r"ip addr del (\S+) dev lo label (\S+) \|\| rc=1", drop),
        (r"exit \$rc", rc_exit),
    ]
    return interpret(step, patterns, out)


# -- dispatch --------------------------------------------------------------------------------------


@dataclass
class Context:
    """What a step may need beyond its host: the clock, the images a pull can get, and which images'
    health checks pass."""

    clock: Callable[[], float]
    registry: set[str]
    failing_checks: set[str] = field(default_factory=set)  # images whose health check fails
    # init container name -> the exit codes of its next runs (None: still running after the wait); default 0
    init_exits: dict[str, list[int | None]] = field(default_factory=dict)

    def health_passing(self, image: str) -> bool:
        return normalize(image) not in self.failing_checks


Step = Callable[[DockerHost, Command, Context], Out]

def stop_pods(h: DockerHost, step: Command, ctx: Context) -> Out:
    """The parallel stop of several pods' app containers (commands/pod.py stop_pods)."""
    now = ctx.clock()
    out = Out()
    text = step.render()
    _require(step, "orc_stop() {", "wait")
    for c_name, argv in re.findall(r"^  timeout \d+ docker exec -- (\S+) (.+) >/dev/null 2>&1 &$", text, re.M):
        c = h.containers.get(c_name)
        if h.docker_alive and c is not None and c.running:
            h.hooks_run.append((c_name, tuple(shlex.split(argv))))
    h.hooks_run += [("", ("sleep", n)) for n in re.findall(r"^  timeout \d+ sleep (\d+) >/dev/null 2>&1 &$", text, re.M)]
    # a pod with hooks: its subshell runs them, then stops it with what is left of its grace (all of it here)
    hooked = re.findall(r'^  orc_stop (\S+) "\$orc_left"$', text, re.M)
    lefts = re.findall(r"^  orc_left=\$\(\((\d+) - ", text, re.M)
    pairs = [*re.findall(r"^orc_stop (\S+) (\d+) &$", text, re.M), *zip(hooked, lefts, strict=True)]
    for uid, grace in pairs:
        if not h.docker_alive:
            continue
        for c in h.matching([f"label=orc.pod-uid={_word(uid)}"], True):
            if c.labels.get("orc.infra") != "true":
                c.state, c.exit_code, c.finished, c.stop_grace = "exited", 0, now, int(grace)
    names = re.search(r"^echo stopped (.+)$", text, re.M)
    out.stdout.append("stopped " + (names.group(1) if names else ""))
    return out


STEPS: dict[str, Step] = {
    "system": probe_system,
    "docker": probe_docker,
    "gpus": probe_gpus,
    "containers": probe_containers,
    "inspect": inspect,
    "images": probe_images,
    "image": image_inspect,
    "proxy-state": proxy_state,
    "proxy-hosts": proxy_hosts,
    "proxy": proxy_deploy,
}
PREFIXES: list[tuple[str, Step]] = [
    ("create pod/", create_pod),
    ("start pod/", continue_pod),
    ("delete pod/", delete_pod),
    ("stop ", stop_pods),
    ("restart pod/", restart),
    ("remove ", remove),
]


ACTION_STEPS = tuple(p for p, _ in PREFIXES)  # the plan's actions (the other act steps are the proxy's)


def answer(h: DockerHost, step: Command, ctx: Context) -> StepResult:
    handler = STEPS.get(step.name) or next((fn for p, fn in PREFIXES if step.name.startswith(p)), None)
    if handler is None:
        raise HarnessError(f"step {step.name!r} is not simulated by the engine harness: add a handler to STEPS "
                           f"or PREFIXES in tests/harness/steps.py. Its text:\n{step.render()}")
    return handler(h, step, ctx).result(step.name)


# -- image copies (raw channels: `docker save` on the source, `docker load` on the targets) ---------------

IMAGE_MAGIC = b"HARNESS-IMAGE "  # a "tar" stream: the magic, the image name, a newline, padding


class ImageChannel:
    """What `orchestrator.images.push` uses of a channel, answered by one simulated host: `docker save --
    IMAGE` streams the image, `docker load -q` reads one. Any other command is a HarnessError."""

    def __init__(self, h: DockerHost):
        self.h = h
        self.mode = ""
        self.image = ""
        self.out = b""
        self.err = b""
        self.received = bytearray()
        self.status: int | None = None

    def __enter__(self) -> ImageChannel:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def exec_command(self, command: str) -> None:
        argv = shlex.split(command)
        if argv[:2] == ["sudo", "-n"]:
            argv = argv[2:]
        if argv == ["docker", "load", "-q"]:
            self.mode = "load"
        elif argv[:3] == ["docker", "save", "--"] and len(argv) == 4:
            self.mode, self.image = "save", normalize(argv[3])
            if not self.h.docker_alive:
                self.status, self.err = 1, DEAD.encode()
            elif self.h.save_fails is not None:
                self.status, self.err = 1, self.h.save_fails.encode()
            elif self.image not in self.h.images:
                self.status, self.err = 1, b"Error response from daemon: reference does not exist"
            else:
                self.status, self.out = 0, IMAGE_MAGIC + self.image.encode() + b"\n" + b"\0" * 200_000
        else:
            raise HarnessError(f"image channel command {command!r} is not simulated (tests/harness/steps.py)")

    def recv(self, n: int) -> bytes:
        chunk, self.out = self.out[:n], self.out[n:]
        return chunk

    def recv_stderr(self, n: int) -> bytes:
        return self.err[:n]

    def sendall(self, data: bytes) -> None:
        self.received += data

    def shutdown_write(self) -> None:
        if self.mode != "load":
            return
        head = bytes(self.received[: self.received.find(b"\n")])
        if not self.h.docker_alive:
            self.status, self.err = 1, DEAD.encode()
        elif not head.startswith(IMAGE_MAGIC):
            self.status, self.err = 1, b"Error: open /var/lib/docker/tmp/docker-import: unexpected EOF"
        else:
            self.h.images.add(head[len(IMAGE_MAGIC):].decode())
            self.status = 0

    def recv_exit_status(self) -> int:
        if self.status is None:
            raise HarnessError(f"exit status of `docker {self.mode}` read before its input was closed")
        return self.status

    def close(self) -> None:
        pass
