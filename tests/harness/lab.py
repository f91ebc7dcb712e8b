"""A simulated cluster the REAL engine runs against: a project folder (orc.yaml, an inventory file, a
SQLite store) loaded as `orc reconcile` loads it, a FakeTransport whose responder is a set of simulated
docker hosts, a clock the engine and the hosts share, and scenario controls.

    lab = SimLab(tmp_path, hosts=("h1", "h2", "h3"))
    lab.apply(rc_doc("web", 3))
    r = lab.reconcile()                     # one Engine.run_pass; the clock then moves on `lab.step` seconds
    assert lab.pods_of("rc/web") ...        # what `docker ps` would show on the hosts
    lab.kill("h1", pod)                     # `docker rm -f` behind the engine's back
    lab.unreachable("h2") / lab.reachable("h2")
    lab.docker_dies("h3") / lab.docker_returns("h3")
    lab.fail_next_run("nginx:1.25", times=2)
    lab.image_source_fails("h1")                # `docker save` there fails: copies from it fail

Every pass raises if the engine sent a step the harness does not simulate (see steps.py), so a scenario
never passes because an unknown command was answered with exit 0.
"""

from __future__ import annotations

import contextlib
import re
import threading
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import yaml

from orchestrator.act.events import EventLog
from orchestrator.cli.applier import commit_apply, plan_apply
from orchestrator.commands.base import Command
from orchestrator.config import load_project
from orchestrator.controllers.book import BOOK_KEY, Book
from orchestrator.engine import Engine, PassResult
from orchestrator.inventory.host import Host
from orchestrator.inventory.loader import load_inventory
from orchestrator.model.load import parse_objects
from orchestrator.store import open_store
from orchestrator.transport.base import StepResult
from orchestrator.transport.fake import FakeTransport
from tests.harness.docker import Container, DockerHost
from tests.harness.steps import (
    ACTION_STEPS,
    Context,
    ControllerKilled,
    HarnessError,
    ImageChannel,
    answer,
    create_pod,
    normalize,
)

T0 = 1_700_000_000.0
INFRA_IMAGE = "registry.k8s.io/pause:3.9"
IMAGES = (INFRA_IMAGE, "nginx:1.25", "busybox:1")  # on every host at the start
REGISTRY = (*IMAGES, "redis:7", "nginx:1.27")  # what a `docker run` can pull


class Clock:
    def __init__(self, now: float):
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class SimTransport(FakeTransport):
    """FakeTransport plus the raw channels image copies use (`channel(host)`, one round trip each, as SSH
    counts them), answered by the lab's hosts."""

    def __init__(self, lab: SimLab):
        super().__init__(responder=lab._respond)
        self.lab = lab

    @contextlib.contextmanager
    def channel(self, host: Host) -> Iterator[ImageChannel]:
        self._reach(host)
        with ImageChannel(self.lab.docker[host.name]) as chan:
            yield chan


class KillableStore:
    """The lab's SQLite store as the engine sees it: every call passes through, except that an armed one
    kills the controller when it is about to write its book (after acting, before recording)."""

    def __init__(self, store: Any):
        self.inner = store
        self.armed = False

    def put(self, key: str, value: Any, **kw: Any) -> Any:
        if self.armed and key == BOOK_KEY:
            raise ControllerKilled("the controller died before writing its book")
        return self.inner.put(key, value, **kw)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


class SimLab:
    def __init__(self, root: Path, hosts: Sequence[str] = ("h1", "h2", "h3"), *, cpus: int = 4,
                 memory: int = 8 << 30, grace_period: float = 40.0, step: float = 10.0,
                 settings: dict[str, Any] | None = None, host_vars: dict[str, dict[str, Any]] | None = None,
                 images: Iterable[str] = IMAGES, registry: Iterable[str] = REGISTRY, start: float = T0):
        self.root = root
        self.clock = Clock(start)
        self.step = step  # seconds the clock moves after each pass
        config = {"cluster": "harness", "inventory": "inventory.yaml", "infra_image": INFRA_IMAGE,
                  "grace_period": grace_period, **(settings or {})}
        (root / "orc.yaml").write_text(yaml.safe_dump(config))
        inventory = {"all": {"hosts": {n: {"ansible_host": f"127.0.0.{11 + i}", **(host_vars or {}).get(n, {})}
                                       for i, n in enumerate(hosts)}}}
        (root / "inventory.yaml").write_text(yaml.safe_dump(inventory))
        self.project = load_project(str(root / "orc.yaml"))
        self.hosts: list[Host] = load_inventory(self.project.inventory_path).hosts()
        self.docker = {n: DockerHost(n, self.clock, cpus=cpus, memory=memory, images={normalize(i) for i in images})
                       for n in hosts}
        self.ctx = Context(self.clock, {normalize(i) for i in registry})
        self.errors: list[HarnessError] = []
        self.cut: dict[str, int] = {}  # host -> actions it runs before the controller dies (this pass)
        self.partitioned: set[str] = set()  # hosts the controller cannot reach but their peers can
        self.half = False  # ... and the next create step runs its infra container only
        self._acted: dict[str, int] = {}
        self._lock = threading.Lock()  # hosts answer in parallel threads; one host's state is touched by one
        self.transport = SimTransport(self)
        self.store = open_store(self.project.store_url)
        self.engine_store = KillableStore(self.store)
        self.events = EventLog()
        self.engine = self.new_engine()
        self.history: list[PassResult] = []

    @classmethod
    def beside(cls, other: SimLab, root: Path, cluster: str, **kw: Any) -> SimLab:
        """A second project (its own folder, orc.yaml `cluster`, store) on the SAME simulated hosts and clock
        as `other`: what `orc init` of another project pointed at the same inventory gives."""
        settings = {**kw.pop("settings", {}), "cluster": cluster}
        lab = cls(root, tuple(other.docker), settings=settings, start=other.clock(), **kw)
        lab.clock, lab.docker, lab.ctx = other.clock, other.docker, other.ctx
        lab.engine = lab.new_engine()
        return lab

    def lose_store(self) -> None:
        """The project's state file is gone (a fresh clone with .orc git-ignored, a lost disk): a new, empty
        store in its place."""
        import os

        self.store.close()
        os.remove(self.project.store_url[len("sqlite:"):])
        self.store = open_store(self.project.store_url)
        self.engine_store = KillableStore(self.store)
        self.engine = self.new_engine()

    def new_engine(self, **kw: Any) -> Engine:
        """An engine as `orc reconcile` builds one (cli/reconcile_cmd.py `_engine`), on this lab."""
        return Engine(self.project, self.hosts, self.transport, self.engine_store, self.events, clock=self.clock,
                      **kw)

    def close(self) -> None:
        self.store.close()

    # -- the responder ---------------------------------------------------------------------------------

    def _respond(self, host: Host, step: Command) -> StepResult:
        if step.name == "peer-check":  # a peer tries other hosts' SSH ports (observe/vantage.py)
            lines = []
            for name in re.findall(r"echo peer (\S+) ok;", step.render()):
                ok = name in self.partitioned or name not in self.transport.unreachable
                lines.append(f"peer {name} {'ok' if ok else 'fail'}")
            return StepResult(step.name, 0, "".join(x + "\n" for x in lines), "")
        if host.name in self.cut and step.name.startswith(ACTION_STEPS):
            with self._lock:
                done = self._acted[host.name] = self._acted.get(host.name, 0) + 1
            if done > self.cut[host.name]:
                if self.half and done == self.cut[host.name] + 1 and step.name.startswith("create pod/"):
                    create_pod(self.docker[host.name], step, self.ctx, killed_after_runs=1)
                raise ControllerKilled(f"{host.name}: the controller died after {done - 1} act steps")
        try:
            return answer(self.docker[host.name], step, self.ctx)
        except HarnessError as e:
            with self._lock:
                self.errors.append(e)
            return StepResult(step.name, 127, "", f"harness: {e}")

    # -- desired state ---------------------------------------------------------------------------------

    def apply(self, *docs: dict[str, Any]) -> None:
        """`orc apply` of these manifests (validated, written in one transaction)."""
        commit_apply(self.store, plan_apply(self.store, parse_objects(list(docs))), self.clock())

    def delete(self, doc: dict[str, Any]) -> None:
        """`orc delete -f` of this manifest's object (its creation time, and its tombstone), in one transaction."""
        from orchestrator.cli.applier import delete_ops

        (obj,) = parse_objects([doc])
        rec = self.store.get(obj.key)
        assert rec is not None, f"{obj.key} is not in the store"
        self.store.txn(delete_ops(obj.key, rec.revision, self.clock()))

    # -- passes ----------------------------------------------------------------------------------------

    def reconcile(self, engine: Engine | None = None, advance: float | None = None) -> PassResult:
        """One `orc reconcile` pass, then the clock moves on (`advance`, default `step` seconds)."""
        result = (engine or self.engine).run_pass()
        if self.errors:
            first, self.errors = self.errors[0], []
            raise first
        self.history.append(result)
        self.clock.advance(self.step if advance is None else advance)
        return result

    def reconcile_killed(self, cut: dict[str, int], half: bool = False) -> None:
        """A pass whose controller is SIGKILLed once a host has run `cut[host]` of its actions (its proxy
        steps come first and run; hosts not in `cut` finish theirs), or at the latest just before it writes
        its book. With `half`, the create at the cut runs only its infra container (no undo). Nothing of the
        pass is recorded after the kill (no book, no snapshot); the clock moves on."""
        self.cut, self.half, self._acted = dict(cut), half, {}
        self.engine_store.armed = True
        try:
            self.reconcile()
        except ControllerKilled:
            self.clock.advance(self.step)
            return None
        finally:
            self.cut, self.half, self.engine_store.armed = {}, False, False
        raise AssertionError("the pass was to be killed but completed")

    def reconcile_until_quiet(self, limit: int = 10) -> list[PassResult]:
        """Passes until one changes nothing; fails after `limit`."""
        out = []
        for _ in range(limit):
            out.append(self.reconcile())
            if not out[-1].changed:
                return out
        raise AssertionError(f"no quiet pass after {limit}: last results {out[-1].results}")

    # -- what a user would see -------------------------------------------------------------------------

    def pods(self, *, reachable_only: bool = False, cluster: str | None = None) -> list[tuple[str, str, str, str | None]]:
        """(host, pod, uid, owner) of every pod instance (an infra container, or a solo pod's one container)
        on the hosts (of `cluster` only, when given)."""
        out = []
        for name, h in self.docker.items():
            if reachable_only and name in self.transport.unreachable:
                continue
            for c in h.containers.values():
                if c.labels.get("orc.infra") in ("true", "self") and cluster in (None, c.labels.get("orc.cluster")):
                    out.append((name, c.labels["orc.pod"], c.labels["orc.pod-uid"], c.labels.get("orc.owner") or None))
        return sorted(out)

    def pods_of(self, owner: str | None, **kw: Any) -> list[tuple[str, str, str, str | None]]:
        return [p for p in self.pods(**kw) if p[3] == owner]

    def containers(self, host: str, pod: str) -> list[Container]:
        return sorted((c for c in self.docker[host].containers.values() if c.labels.get("orc.pod") == pod),
                      key=lambda c: c.name)

    def book(self) -> Book:
        rec = self.store.get(BOOK_KEY)
        return Book.from_dict(rec.value if rec else None)

    def stored_pods(self) -> list[tuple[str, str, str]]:
        """(host, pod, phase) of `orc get pods`: the snapshot the pass stored, as the CLI reads it."""
        from orchestrator.cli.observed import read_snapshot

        snap = read_snapshot(self.store)
        assert snap is not None, "no snapshot stored"
        return sorted((p.host, p.name, p.phase) for p in snap.pods)

    def stored_hosts(self) -> dict[str, str]:
        from orchestrator.cli.observed import read_snapshot

        snap = read_snapshot(self.store)
        assert snap is not None, "no snapshot stored"
        return {h.name: h.status for h in snap.hosts}

    # -- scenario controls -----------------------------------------------------------------------------

    def kill(self, host: str, pod: str, container: str = "app") -> None:
        """`docker rm -f` of one container of a pod, behind the engine's back."""
        name = f"orc_{pod}_{container}" if container else f"orc_{pod}"
        assert name in self.docker[host].containers, f"no container {name} on {host}"
        del self.docker[host].containers[name]

    def crash(self, host: str, pod: str, container: str = "app", exit_code: int = 1) -> None:
        """The container's process exits; docker restarts it when its restart policy says so."""
        c = self.docker[host].containers[f"orc_{pod}_{container}"]
        now = self.clock()
        if c.restart_policy in ("always", "unless-stopped") or (c.restart_policy == "on-failure" and exit_code):
            c.restart_count += 1
            c.started = now
        else:
            c.state, c.exit_code, c.finished = "exited", exit_code, now

    def unreachable(self, host: str, reason: str = "timeout") -> None:
        """The host is gone (powered off, its network down): neither the controller nor its peers reach it."""
        self.transport.set_unreachable(host, reason)

    def partition(self, host: str) -> None:
        """Only the controller's path to the host fails: its peers still reach it."""
        self.transport.set_unreachable(host, "timeout")
        self.partitioned.add(host)

    def reachable(self, host: str) -> None:
        self.transport.set_reachable(host)
        self.partitioned.discard(host)

    def docker_dies(self, host: str) -> None:
        """dockerd stops answering; sshd still does (the containers keep running, as with live-restore)."""
        self.docker[host].docker_alive = False

    def docker_returns(self, host: str) -> None:
        self.docker[host].docker_alive = True

    def wipe(self, host: str) -> None:
        """The host comes back empty (reinstalled, or docker's data lost)."""
        self.docker[host].containers.clear()
        self.docker[host].volumes.clear()

    def fail_next_run(self, image: str, times: int = 1,
                      message: str = "failed to create task for container: exec format error") -> None:
        """The next `times` `docker run`s of `image`, whichever hosts they are tried on, fail with docker's
        error message."""
        shared = [message] * times
        for h in self.docker.values():
            h.fail_runs[normalize(image)] = shared

    def image_source_fails(self, host: str, message: str = "write /dev/stdout: no space left on device") -> None:
        """`docker save` on the host fails (an image copy from it cannot be made)."""
        self.docker[host].save_fails = message

    def failing_health(self, image: str) -> None:
        """Health checks of containers made from `image` fail from now on."""
        self.ctx.failing_checks.add(normalize(image))
        for h in self.docker.values():
            for c in h.containers.values():
                if c.health is not None and normalize(c.image) == normalize(image):
                    c.health.passing = False

    def init_results(self, pod: str, container: str, *codes: int | None) -> None:
        """The next runs of an init container end with these exit codes (None: still running after the
        create step's wait); then 0."""
        self.ctx.init_exits[f"orc_{pod}_{container}"] = list(codes)

    def init_retried(self, host: str, pod: str, container: str) -> None:
        """Docker's restart policy runs a failed (restarting) init container again; a running one ends."""
        from tests.harness.steps import run_init

        c = self.docker[host].containers[f"orc_{pod}_{container}"]
        if c.state == "restarting":
            c.restart_count += 1
        run_init(self.docker[host], c, self.ctx)

    def batches(self, host: str) -> list[tuple[str, ...]]:
        """Step names of every batch sent to the host so far."""
        return [b.names for b in self.transport.batches_for(host)]
