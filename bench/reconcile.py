"""Reconcile speed on a real lab: converge from empty, no-op passes, SSH round trips per host per pass, beside
the SSH floor (one bare parallel exec sweep over the same hosts).

For each size N it brings up its own lab (default name "bench", 10.99.3.0/24, `--lab NAME --subnet X` for
another; never the user's "lab"), writes a temp project, applies an RC of N replicas (one pod per host) and
times `Engine.run_pass()`. The lab is always torn down, even on error or Ctrl-C.

Converge is measured `-n` times: each run removes every container of ours from the hosts (and the probe's
caches from the store), then times one pass on a fresh transport, interleaved with its floor: one exec per
host, on a fresh transport too, that starts the same containers the peers start (one `docker run` per pod).

Run:  sudo .venv/bin/python bench/reconcile.py [--hosts 5 20] [-n 5] [--per-host 1] [--lab bench --subnet 3]
      [--compare-python OTHER_CHECKOUT/.venv/bin/python]   (its cron pass interleaved with ours and the floor)
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from orchestrator.commands.base import cmd, sh
from orchestrator.config import SSHSettings, load_project
from orchestrator.engine import CONTAINERS_PREFIX, FACTS_PREFIX, Engine, PassResult
from orchestrator.inventory.host import Host
from orchestrator.inventory.loader import load_inventory
from orchestrator.lab import cluster
from orchestrator.lab.spec import BASE_IMAGE, LabSpec
from orchestrator.model.load import load_objects
from orchestrator.plan.types import CreatePod
from orchestrator.store import open_store
from orchestrator.transport.parallel import run_parallel
from orchestrator.transport.ssh import SSHTransport

sys.path.insert(0, str(Path(__file__).resolve().parent))
from ssh_floor import floor, sweep  # noqa: E402  (a sibling script, not a package)

# The floor of a cron pass, as a whole process: Python, paramiko, one thread per host that connects and runs
# `docker ps` once (what any tool must do at the least). Connection parameters come on argv, so the floor
# imports nothing of ours.
FLOOR_PROCESS = """
import json, sys, threading, paramiko
hosts = json.loads(sys.argv[1])
errors = []
def one(h):
    c = paramiko.SSHClient()
    c.set_missing_host_key_policy(paramiko.AutoAddPolicy())
    try:
        c.connect(h["address"], port=h["port"] or 22, username=h["user"], key_filename=h["key_file"],
                  look_for_keys=h["key_file"] is None, allow_agent=False, timeout=10)
        _, out, _ = c.exec_command("docker ps -q")
        out.read()
        if out.channel.recv_exit_status() != 0:
            errors.append(h["address"])
    except Exception as e:
        errors.append(f"{h['address']}: {e}")
    finally:
        c.close()
threads = [threading.Thread(target=one, args=(h,)) for h in hosts]
[t.start() for t in threads]
[t.join() for t in threads]
sys.exit(1 if errors else 0)
"""

LAB_NAME = "bench"
LAB_SUBNET = 3

RC_MANIFEST = """\
apiVersion: v1
kind: ReplicationController
metadata: {{name: bench}}
spec:
  replicas: {replicas}
  template:
    metadata: {{labels: {{app: bench}}}}
    spec:
      containers:
      - name: app
        image: {image}
        command: [sleep, "2147483647"]
        resources: {{requests: {{cpu: 100m, memory: 16Mi}}}}
      topologySpreadConstraints:
      - {{maxSkew: 1, topologyKey: kubernetes.io/hostname, whenUnsatisfiable: DoNotSchedule,
          labelSelector: {{matchLabels: {{app: bench}}}}}}
"""


@dataclass
class Figures:
    hosts: int
    converge: float = 0.0  # seconds of the first pass (fresh transport, empty cluster)
    converges: list[float] = field(default_factory=list)  # later converges from empty (containers removed)
    converge_floor: list[float] = field(default_factory=list)  # one `docker run` per pod, one exec per host
    converge_floor_pair: list[float] = field(default_factory=list)  # the same, infra + app per pod
    converge_passes: int = 0  # passes that acted before one had nothing to do (1: converged in one)
    converge_trips: float = 0.0  # max round trips on one host in the converging pass
    noop_fresh: list[float] = field(default_factory=list)
    noop_open: list[float] = field(default_factory=list)
    noop_quiet: list[float] = field(default_factory=list)  # --watch pass with every event stream silent
    observe_open: list[float] = field(default_factory=list)  # the probe phase alone, open connections
    noop_trips: float = 0.0  # max round trips on one host in a no-op pass
    floor_fresh: float = 0.0
    floor_reused: float = 0.0
    cron: list[float] = field(default_factory=list)  # whole `orc reconcile` processes, no-op (wall seconds)
    cron_floor: list[float] = field(default_factory=list)  # whole floor processes: paramiko, threads, `docker ps`
    cron_other: list[float] = field(default_factory=list)  # the same `orc reconcile` of --compare-python's orc
    # `docker ps -q` on every host over the polled passes' open connections, interleaved with them: the
    # open-connection floor of a pass that must learn what runs
    ps_open: list[float] = field(default_factory=list)
    running: int = 0  # pods running after converging
    errors: list[str] = field(default_factory=list)


def _project(root: Path, inventory: Path) -> None:
    settings = {
        "cluster": "bench",
        "inventory": str(inventory),
        "store": "sqlite:.orc/state.db",
        "infra_image": BASE_IMAGE,
        "infra_command": ["sleep", "2147483647"],
    }
    (root / "orc.yaml").write_text(yaml.safe_dump(settings, sort_keys=False))


def _apply(store_url: str, root: Path, replicas: int) -> None:
    """What `orc apply -f rc.yaml` does: validate, then record in the store."""
    path = root / "rc.yaml"
    path.write_text(RC_MANIFEST.format(replicas=replicas, image=BASE_IMAGE))
    store = open_store(store_url)
    try:
        for obj in load_objects([str(path)]):
            store.put(obj.key, obj.to_manifest())
    finally:
        store.close()


def _timed_pass(engine: Engine) -> tuple[float, PassResult]:
    start = time.perf_counter()
    result = engine.run_pass()
    return time.perf_counter() - start, result


def _process(argv: list[str], cwd: Path, figures: Figures, what: str) -> float:
    start = time.perf_counter()
    proc = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=300, check=False)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        figures.errors.append(f"{what}: exit {proc.returncode}: {(proc.stderr or proc.stdout).strip()[-300:]}")
    return elapsed


def spread(values: Sequence[float], unit: float = 1000.0, suffix: str = " ms") -> str:
    """median (min-max)"""
    if not values:
        return "-"
    return (f"{statistics.median(values) * unit:.0f}{suffix} ({min(values) * unit:.0f}-"
            f"{max(values) * unit:.0f})")


def _check(result: PassResult, figures: Figures, what: str) -> None:
    for r in result.failed:
        figures.errors.append(f"{what}: {r.host} {r.step}: {r.error}")
    for h in result.unreachable:
        figures.errors.append(f"{what}: {h} unreachable")


def _wipe(transport: SSHTransport, hosts: Sequence[Host], figures: Figures, label: str) -> None:
    """Remove every container carrying `label` from every host (one exec each)."""
    script = f"ids=$(docker ps -aq --filter label={label}); [ -z \"$ids\" ] || docker rm -f $ids >/dev/null"
    for name, r in run_parallel(hosts, lambda h: transport.run_batch(h, [sh("wipe", script)])).items():
        if isinstance(r, Exception) or not r.ok:
            figures.errors.append(f"wipe {name}: {r!r}")


def _floor_converge(settings: SSHSettings, hosts: Sequence[Host], figures: Figures, pair: bool = False,
                    per_host: int = 1) -> float:
    """What any tool must do to converge: one exec per host (fresh connections) that starts the pod's one
    container, as the peers start it, then waits for nothing more. `pair`: an infra container first and the
    app container in its network namespace, as orc starts a pod (what the infra container costs)."""
    run = ["docker", "run", "-d", "--label", "orc-bench-floor=1", "--restart", "unless-stopped"]
    steps = []
    for i in range(per_host):  # one after the other, as the peers run them
        if pair:
            steps.append(cmd(f"infra {i}", *run, "--name", f"floor_infra{i}", "--", BASE_IMAGE, "sleep", "2147483647"))
        steps.append(cmd(f"run {i}", *run, "--name", f"floor_app{i}",
                         *(["--network", f"container:floor_infra{i}"] if pair else []),
                         "--", BASE_IMAGE, "sleep", "2147483647"))
    t = SSHTransport(settings)
    try:
        start = time.perf_counter()
        done = run_parallel(hosts, lambda h: t.run_batch(h, steps))
        elapsed = time.perf_counter() - start
        for name, r in done.items():
            if isinstance(r, Exception) or not r.ok:
                figures.errors.append(f"converge floor {name}: {r!r}")
        _wipe(t, hosts, figures, "orc-bench-floor=1")
    finally:
        t.close()
    return elapsed


def measure(n: int, runs: int, progress: Callable[[str], None], lab: str = LAB_NAME,
            subnet: int = LAB_SUBNET, per_host: int = 1, other: str | None = None) -> Figures:
    figures = Figures(hosts=n)
    spec = LabSpec(hosts=n, name=lab, subnet=subnet)
    with tempfile.TemporaryDirectory(prefix="orc-bench-") as tmp:
        root = Path(tmp)
        inventory = root / "inventory.yaml"
        try:
            progress(f"[{n} hosts] lab up")
            cluster.up(spec, inventory, progress=lambda m: progress(f"[{n} hosts]   {m}"))
            _project(root, inventory)
            project = load_project(str(root / "orc.yaml"))
            settings = project.settings.ssh
            hosts = load_inventory(project.inventory_path).hosts()
            _apply(project.store_url, root, n * per_host)
            store = open_store(project.store_url)

            def engine(transport: SSHTransport) -> Engine:
                return Engine(project, hosts, transport, store)

            progress(f"[{n} hosts] converge from empty")
            t = SSHTransport(settings)
            try:
                e = engine(t)
                figures.converge, result = _timed_pass(e)
                _check(result, figures, "converge")
                figures.converge_trips = max(result.round_trips.values(), default=0)
                figures.converge_passes = 1
                for extra in range(2, 6):  # passes that still acted after the first (0 when it converged)
                    _, result = _timed_pass(e)
                    _check(result, figures, f"converge pass {extra}")
                    if not result.changed:
                        break
                    figures.converge_passes = extra
                    for r in result.results:
                        progress(f"[{n} hosts]   pass {extra}: {r.host} {r.step} ok={r.ok}")
                figures.running = sum(1 for p in result.snapshot.pods if p.phase == "Running")
                progress(f"[{n} hosts] probe only (observe) on open connections")
                for _ in range(runs):
                    start = time.perf_counter()
                    e.observe()
                    figures.observe_open.append(time.perf_counter() - start)
                progress(f"[{n} hosts] no-op passes on open connections (interleaved with `docker ps -q` sweeps)")
                fails: dict[str, str] = {}
                for _ in range(runs):
                    elapsed, result = _timed_pass(e)
                    _check(result, figures, "no-op (open)")
                    if result.changed:
                        figures.errors.append(f"no-op (open) pass acted: {len(result.results)} actions")
                    figures.noop_open.append(elapsed)
                    figures.noop_trips = max(result.round_trips.values(), default=0)
                    figures.ps_open.append(sweep(t, hosts, settings.max_parallel, fails, "docker ps -q"))
                figures.errors += [f"docker ps floor: {h}: {err}" for h, err in sorted(fails.items())]
                progress(f"[{n} hosts] quiet --watch passes (every host's event stream open and silent)")
                unchanged = {h: f for h, f in result.snapshot.hosts.items() if f.ready}
                for _ in range(runs):
                    start = time.perf_counter()
                    quiet = e.run_pass(unchanged=unchanged)
                    figures.noop_quiet.append(time.perf_counter() - start)
                    if quiet.changed or any(quiet.round_trips.values()):
                        figures.errors.append("a quiet --watch pass acted or asked a host")
            finally:
                t.close()
            progress(f"[{n} hosts] no-op passes on fresh transports")
            for _ in range(runs):
                t = SSHTransport(settings)
                try:
                    elapsed, result = _timed_pass(engine(t))
                finally:
                    t.close()
                _check(result, figures, "no-op (fresh)")
                if result.changed:
                    figures.errors.append(f"no-op (fresh) pass acted: {len(result.results)} actions")
                figures.noop_fresh.append(elapsed)
            progress(f"[{n} hosts] whole-process cron passes (`orc reconcile`) and the floor process")
            params = json.dumps([{"address": h.address, "port": h.port, "user": h.user, "key_file": h.key_file}
                                 for h in hosts])
            for _ in range(runs):  # interleaved, so drift on the shared cores hits both alike
                figures.cron.append(_process([sys.executable, "-m", "orchestrator.cli.main", "reconcile"], root,
                                             figures, "cron pass"))
                figures.cron_floor.append(_process([sys.executable, "-c", FLOOR_PROCESS, params], root, figures,
                                                   "floor process"))
                if other:
                    figures.cron_other.append(_process([other, "-m", "orchestrator.cli.main", "reconcile"], root,
                                                       figures, "cron pass (--compare-python)"))
            progress(f"[{n} hosts] converge from empty, {runs} more times, beside its floor (interleaved)")
            for _ in range(runs):
                t = SSHTransport(settings)
                try:
                    _wipe(t, hosts, figures, "orc.cluster=bench")
                    for rec in [*store.list(CONTAINERS_PREFIX), *store.list(FACTS_PREFIX)]:
                        store.delete(rec.key)
                    elapsed, result = _timed_pass(engine(t))
                finally:
                    t.close()
                _check(result, figures, "converge (again)")
                if sum(1 for r in result.results if isinstance(r.action, CreatePod) and r.ok) != n * per_host:
                    figures.errors.append(f"converge (again) created {len(result.results)} of {n * per_host}")
                figures.converges.append(elapsed)
                figures.converge_floor.append(_floor_converge(settings, hosts, figures, per_host=per_host))
                figures.converge_floor_pair.append(_floor_converge(settings, hosts, figures, True, per_host))
            store.close()
            progress(f"[{n} hosts] SSH floor")
            fl = floor(hosts, settings, runs=runs)
            figures.floor_fresh, figures.floor_reused = fl.fresh_median, fl.reused_median
            figures.errors += [f"floor: {h}: {err}" for h, err in sorted(fl.failures.items())]
        finally:
            progress(f"[{n} hosts] lab down")
            cluster.down(spec)
    return figures


def table(rows: Sequence[Figures], per_host: int = 1) -> str:
    def ms(x: float) -> str:
        return f"{x * 1000:.0f} ms"

    head = [
        "hosts",
        "converge",
        "passes",
        "trips/host",
        "no-op open",
        "probe open",
        "floor reused",
        "ratio",
        "no-op fresh",
        "floor fresh",
        "ratio",
        "trips/host",
        "quiet watch",
        "running",
    ]
    lines = [head]
    for f in rows:
        open_, fresh = statistics.median(f.noop_open), statistics.median(f.noop_fresh)
        lines.append(
            [
                str(f.hosts),
                ms(f.converge),
                str(f.converge_passes),
                f"{f.converge_trips:g}",
                ms(open_),
                ms(statistics.median(f.observe_open)),
                ms(f.floor_reused),
                f"{open_ / f.floor_reused:.2f}x",
                ms(fresh),
                ms(f.floor_fresh),
                f"{fresh / f.floor_fresh:.2f}x",
                f"{f.noop_trips:g}",
                ms(statistics.median(f.noop_quiet)),
                f"{f.running}/{f.hosts * per_host}",
            ]
        )
    widths = [max(len(r[i]) for r in lines) for i in range(len(head))]
    out = ["  ".join(c.rjust(w) for c, w in zip(r, widths, strict=True)) for r in lines]
    out.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", type=int, nargs="+", default=[5, 20], help="lab sizes (default 5 20)")
    parser.add_argument("-n", "--runs", type=int, default=5, help="no-op passes / floor sweeps per mode")
    parser.add_argument("--per-host", type=int, default=1, help="pods per host (default 1)")
    parser.add_argument("--lab", default=LAB_NAME, help=f"the lab's name (default {LAB_NAME})")
    parser.add_argument("--subnet", type=int, default=LAB_SUBNET, help=f"X of 10.99.X.0/24 (default {LAB_SUBNET})")
    parser.add_argument("--compare-python", metavar="PYTHON",
                        help="also time the cron pass of another checkout's orc (its venv's python), interleaved;"
                             " it acts on the same pods, so it must know them: an orc from before solo pods"
                             " (one-container pods without an infra container) replaces them")
    args = parser.parse_args(argv)

    def progress(msg: str) -> None:
        print(msg, file=sys.stderr, flush=True)

    rows = [measure(n, args.runs, progress, args.lab, args.subnet, args.per_host, args.compare_python)
            for n in args.hosts]
    print(
        f"medians of {args.runs} runs; converge = first pass on a fresh transport from an empty cluster;"
        " trips = SSH exec round trips on one host in that pass"
    )
    print(table(rows, args.per_host))
    print()
    print("whole processes (wall time: interpreter start, imports, connects, probe, plan, store), median (min-max):")
    for f in rows:
        cron, fl = statistics.median(f.cron), statistics.median(f.cron_floor)
        print(f"  {f.hosts} hosts: cron no-op `orc reconcile` {spread(f.cron)}, floor process {spread(f.cron_floor)}:"
              f" {cron / fl:.2f}x; polled no-op {spread(f.noop_open)} vs quiet --watch {spread(f.noop_quiet)};"
              f" no-op fresh {spread(f.noop_fresh)}")
        if f.ps_open:
            print(f"    polled no-op {spread(f.noop_open)} beside `docker ps -q` on the same open connections"
                  f" {spread(f.ps_open)}: {statistics.median(f.noop_open) / statistics.median(f.ps_open):.2f}x")
        if f.cron_other:
            print(f"    --compare-python's `orc reconcile` {spread(f.cron_other)}:"
                  f" {statistics.median(f.cron_other) / fl:.2f}x the floor")
    print("converge from empty (every container removed; one pass on fresh connections) beside its floor (one exec"
          " per host starting the one container the peers start), interleaved, median (min-max):")
    for f in rows:
        if f.converges and f.converge_floor:
            c, fl = statistics.median(f.converges), statistics.median(f.converge_floor)
            print(f"  {f.hosts} hosts: converge {spread(f.converges)}, floor {spread(f.converge_floor)}: {c / fl:.2f}x;"
                  f" floor with an infra container per pod {spread(f.converge_floor_pair)}:"
                  f" {statistics.median(f.converge_floor_pair) / fl:.2f}x")
    failed = False
    for f in rows:
        for err in f.errors:
            print(f"ERROR [{f.hosts} hosts] {err}")
            failed = True
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
