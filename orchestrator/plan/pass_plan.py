"""The whole pass as one pure function: (desired state, snapshot, bookkeeping, what the store and the secret
source hold, now) -> Plan. Nothing here reads a clock, a host or the store; the engine gathers the inputs,
acts on exactly the plan returned, and records.

    controllers and placement (planner.plan)  ->  pods to create (with their host ports) and delete
    secrets                                   ->  a pod whose secret is missing waits, with the reason
    services (plan.services)                  ->  address writes, endpoints after the pass, proxies and
                                                  hosts files, discovery env for the new pods
    drain                                     ->  pods that served a service are deleted only after every
                                                  proxy dropped them (a second round trip)
    images                                    ->  copies of images the new pods' hosts lack
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from orchestrator import docker_labels as L
from orchestrator.config import ProxySettings
from orchestrator.controllers.book import Book
from orchestrator.controllers.desired import DesiredState
from orchestrator.inventory.host import Host
from orchestrator.inventory.state_dir import cluster_dir
from orchestrator.observe.snapshot import ClusterSnapshot, ObservedPod
from orchestrator.plan.config_plan import plan_config_volumes, resolve_configs, with_folder
from orchestrator.plan.config_refs import ConfigSource
from orchestrator.plan.downward import field_env
from orchestrator.plan.planner import PlannerConfig, plan
from orchestrator.plan.services import endpoint_servers, plan_services
from orchestrator.plan.types import (
    Action,
    ContinuePod,
    CopyImage,
    CreatePod,
    DeletePod,
    Plan,
    PodRun,
    PreStop,
    RestartContainer,
)
from orchestrator.proxy.discovery import hosts_file_path
from orchestrator.proxy.hostvars import proxy_hosts
from orchestrator.secrets import SecretSource
from orchestrator.store.base import Record

if TYPE_CHECKING:
    from orchestrator.model.pod import PodSpec


@dataclass(frozen=True)
class PassInputs:
    desired: DesiredState
    snapshot: ClusterSnapshot
    book: Book
    hosts: Sequence[Host]
    records: Sequence[Record] = ()  # service address allocations (see proxy.addresses)
    secrets: SecretSource = field(default_factory=lambda: SecretSource({}))
    infra_image: str = ""
    configs: ConfigSource = field(default_factory=ConfigSource)  # applied ConfigMaps and Secrets


@dataclass(frozen=True)
class PassConfig:
    planner: PlannerConfig = field(default_factory=PlannerConfig)
    proxy: ProxySettings = field(default_factory=ProxySettings)
    templates: Path | None = None


def _hosts_file(spec: PodSpec, host: Host, cluster: str) -> str | None:
    """The cluster's hosts file a new pod mounts as /etc/hosts (service names resolve), none for
    `dnsPolicy: Default`: as in Kubernetes, such a pod resolves names as its node does (docker's own
    /etc/hosts and the node's resolv.conf)."""
    return None if spec.dns_policy == "Default" else hosts_file_path(host, cluster)


def plan_pass(inputs: PassInputs, config: PassConfig, now: float, seed: int | None = None) -> Plan:
    p = plan(inputs.desired, inputs.snapshot, inputs.book, now, config.planner, seed=seed)
    configs = with_folder(inputs.configs, inputs.secrets)
    resolve_configs(p, configs, inputs.secrets)
    p.actions = with_pre_stop_hooks(p.actions, inputs.snapshot)
    p.actions = [dataclasses.replace(a, config_dir=inputs.book.config_volumes[a.uid].get("dir"))
                 if isinstance(a, DeletePod) and a.uid in inputs.book.config_volumes else a for a in p.actions]
    deleting = {a.uid for a in p.actions if isinstance(a, DeletePod)}
    # a pod this pass deletes is not started further
    p.actions = [a for a in p.actions if not (isinstance(a, ContinuePod) and a.uid in deleting)]
    creates = [a for a in p.actions if isinstance(a, CreatePod) and a.pod.uid not in p.hold_back]
    sp = plan_services(inputs.desired.services, inputs.snapshot, inputs.hosts, config.proxy, config.templates,
                       inputs.records, creates, deleting, inputs.book.proxy_sections, inputs.book.endpoints,
                       inputs.desired.tombstones, config.planner.reap_orphans, inputs.book.proxy_renders)
    by_name = {h.name: h for h in inputs.hosts}
    p.actions = [dataclasses.replace(a, pod=dataclasses.replace(
                     a.pod, env={**sp.env, **a.pod.env},
                     hosts_file=_hosts_file(a.pod.spec, by_name[a.host], inputs.snapshot.cluster),
                     config_dir=config_root(by_name[a.host], inputs.snapshot.cluster, a.pod.uid)
                     if a.pod.config_volumes else None,
                     field_env=field_env(a.pod, a.host, inputs.snapshot.hosts[a.host].bind_address)))
                 if isinstance(a, CreatePod) else a for a in p.actions]
    p.actions = [*sp.actions, *p.actions]
    p.store_ops = sp.ops
    p.errors += sp.errors
    p.warnings += sp.warnings
    p.notices += sp.notices
    # A deleted service's tombstone is spent once every proxy host was seen without it in its config.
    proxy_hosts_seen = set(sp.served) >= {h.name for h in proxy_hosts(inputs.hosts, config.proxy)}
    for t in sorted(inputs.desired.tombstones):
        if t.startswith("svc/") and proxy_hosts_seen and not any(t[4:] in s for s in sp.served.values()):
            p.book_tombstones[t] = []
    p.addresses, p.endpoints = sp.addresses, sp.endpoints
    p.drain = frozenset(_serving(inputs.snapshot, inputs.book.endpoints) & deleting)
    p.actions += _image_copies(p, inputs.snapshot, inputs.infra_image)
    updates, p.book["config_volumes"] = plan_config_volumes(p, inputs.snapshot, inputs.book.config_volumes, configs,
                                                            deleting)
    p.actions += updates
    p.book["proxy_sections"] = sp.sections
    p.book["proxy_renders"] = sp.renders
    p.book["endpoints"] = endpoint_servers(sp.endpoints)
    return p


def config_root(host: Host, cluster: str, uid: str) -> str:
    """Where a pod's configMap and secret volumes live on its host: `<orc_state_dir>/<cluster>/pods/<uid>`."""
    return f"{cluster_dir(host, cluster)}/pods/{uid}"


def _resolve_secrets(p: Plan, source: SecretSource) -> None:
    """Each new pod's secretKeyRef values; a pod whose secret is missing is not created: it is pending,
    with the reason (never a value). A broken file in the secret source fails only the pods it could
    have served."""
    kept = []
    for a in p.actions:
        if isinstance(a, CreatePod):
            secret_env, missing = resolve_secrets(a.pod, source)
            if missing:
                p.pending[a.target] = missing
                continue
            a = dataclasses.replace(a, pod=dataclasses.replace(a.pod, secret_env=secret_env))
        kept.append(a)
    p.actions = kept
    p.errors += [f"secret source: {e}" for e in source.errors]


def resolve_secrets(pod: PodRun, source: SecretSource) -> tuple[dict[str, dict[str, str]], str]:
    """Container -> var -> value for the pod's secretKeyRefs, or a message naming what is missing (never a
    value)."""
    out: dict[str, dict[str, str]] = {}
    for c in pod.spec.all_containers:
        for e in c.env or []:
            ref = e.value_from.secret_key_ref if e.value_from else None
            if ref is None:
                continue
            value = source.get(ref.name, ref.key)
            if value is not None:
                out.setdefault(c.name, {})[e.name] = value
            elif not ref.optional:
                broken = f" (the secret source has errors: {'; '.join(source.errors)})" if source.errors else ""
                return {}, f'secret "{ref.name}" key "{ref.key}" is not in {source.where()}{broken}'
    return out, ""


def pre_stop_hooks(pod: ObservedPod) -> dict[str, PreStop]:
    """Docker container name -> its preStop hook, as its label (docker_labels.PRE_STOP) recorded it; a label
    that cannot be read is no hook."""
    out: dict[str, PreStop] = {}
    for c in pod.containers:
        try:
            value = json.loads(c.labels.get(L.PRE_STOP) or "null")
        except ValueError:
            continue
        if isinstance(value, dict) and isinstance(value.get("exec"), list) and value["exec"]:
            out[c.name] = PreStop(c.name, exec=tuple(str(x) for x in value["exec"]))
        elif isinstance(value, dict) and isinstance(value.get("sleep"), int) and not isinstance(value["sleep"], bool):
            out[c.name] = PreStop(c.name, sleep=max(value["sleep"], 0))
    return out


def with_pre_stop_hooks(actions: Sequence[Action], snapshot: ClusterSnapshot) -> list[Action]:
    """Deletes and restarts with the preStop hooks of the containers they stop, read from the pods as the
    hosts run them (a pod made from an older template keeps its own hooks)."""
    pods = {p.uid: p for p in snapshot.pods}
    by_pod = {p.name: p for p in snapshot.pods}
    out: list[Action] = []
    for a in actions:
        if isinstance(a, DeletePod) and a.uid in pods:
            hooks = pre_stop_hooks(pods[a.uid])
            a = dataclasses.replace(a, hooks=tuple(hooks[k] for k in sorted(hooks))) if hooks else a
        elif isinstance(a, RestartContainer) and a.pod in by_pod:
            hook = pre_stop_hooks(by_pod[a.pod]).get(a.container)
            a = dataclasses.replace(a, hook=hook) if hook else a
        out.append(a)
    return out


def _serving(snapshot: ClusterSnapshot, last: Mapping[str, Sequence[str]]) -> set[str]:
    """Uids of pods some proxy may send requests to now: those that were endpoints after the last pass."""
    names = {server.split("@")[0] for servers in last.values() for server in servers}
    return {p.uid for p in snapshot.pods if p.name in names}


def normalize_image(image: str) -> str:
    """As `docker images` lists it: `nginx` is `nginx:latest`."""
    last = image.rsplit("/", 1)[-1]
    return image if ":" in last or "@" in last else f"{image}:latest"


def images_of(pod: PodRun, infra_image: str) -> list[str]:
    """Every image a pod needs on its host, as `docker images` names them: its containers' and the infra's."""
    return [normalize_image(i) for i in [*(c.image for c in pod.spec.all_containers if c.image),
                                          *([infra_image] if infra_image else [])]]


def _image_copies(p: Plan, snapshot: ClusterSnapshot, infra_image: str) -> list[CopyImage]:
    """Images a planned pod needs but its host lacks, copied from a ready host that has them (deploying
    without a registry); with no such host, docker pulls them when the pod starts."""
    need: dict[str, set[str]] = {}
    for a in p.actions:
        if isinstance(a, CreatePod):
            for img in images_of(a.pod, infra_image):
                if img not in snapshot.hosts[a.host].images:
                    need.setdefault(img, set()).add(a.host)
    out = []
    for img, targets in sorted(need.items()):
        src = next((h for h, f in sorted(snapshot.hosts.items()) if f.ready and img in f.images), None)
        if src is not None:
            out += [CopyImage(t, img, src, f"from {src}: a new pod needs it") for t in sorted(targets)]
    return out
