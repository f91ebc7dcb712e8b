"""The pass's part for ConfigMaps and Secrets (pure): new pods get what they reference resolved (or wait,
CreateContainerConfigError, until it exists), and running pods whose configMap/secret volumes are stale get
their files swapped in place (UpdateConfigVolume), never a restart. Env taken from them is fixed when a pod
starts, as in Kubernetes.

Bookkeeping (`Book.config_volumes`): pod uid -> {"host", "pod", "dir", "volumes": {name: {"version", "spec"}}},
the volumes as the pod was given them, so a later pass can tell what changed without reading the host.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Set
from typing import Any

from orchestrator.model.pod import Volume
from orchestrator.observe.snapshot import ClusterSnapshot
from orchestrator.plan.config_refs import (
    CONFIG_ERROR,
    ConfigSource,
    ConfigVolume,
    _Missing,
    resolve,
    volume_files,
)
from orchestrator.plan.types import CreatePod, Plan, UpdateConfigVolume
from orchestrator.secrets import SecretSource


def with_folder(configs: ConfigSource, folder: SecretSource) -> ConfigSource:
    """The applied objects and the `secrets/` folder's Secrets together (an applied one wins a name)."""
    names = folder.names()
    if not names:
        return configs
    secrets: dict[str, Mapping[str, bytes]] = {}
    versions = dict(configs.versions)
    for name in names:
        values = folder.items(name) or {}
        secrets[name] = {k: str(v).encode() for k, v in values.items()}
        versions.setdefault(f"secret/{name}", folder.version(name))
    return dataclasses.replace(configs, secrets={**secrets, **configs.secrets}, versions=versions)


def resolve_configs(p: Plan, configs: ConfigSource, folder: SecretSource) -> None:
    """Each new pod with what it takes from ConfigMaps and Secrets; one that misses something is not
    created: it is pending, CreateContainerConfigError with the kubelet's message (`p.book["config_errors"]`
    keeps it for `orc get pods`)."""
    kept = []
    errors: dict[str, str] = {}
    for a in p.actions:
        if isinstance(a, CreatePod):
            r = resolve(a.pod.spec, configs)
            if r.error:
                broken = f" (the secret source has errors: {'; '.join(folder.errors)})" \
                    if folder.errors and r.error.startswith("secret") else ""
                p.pending[a.target] = f"{CONFIG_ERROR}: {r.error}{broken}"
                errors[a.pod.name] = r.error
                continue
            a = dataclasses.replace(a, pod=dataclasses.replace(a.pod, secret_env=r.key_env, env_from=r.env_from,
                                                               config_volumes=r.volumes))
        kept.append(a)
    p.actions = kept
    p.book["config_errors"] = errors
    p.errors += [f"secret source: {e}" for e in folder.errors]


def _entry(a: CreatePod) -> dict[str, Any]:
    specs = {v.name: v for v in a.pod.spec.volumes or []}
    return {"host": a.host, "pod": a.pod.name, "dir": a.pod.config_dir,
            "volumes": {cv.name: {"version": cv.version, "subPaths": list(cv.sub_paths),
                                  "spec": specs[cv.name].model_dump(by_alias=True, exclude_none=True, mode="json")}
                        for cv in a.pod.config_volumes}}


def plan_config_volumes(p: Plan, snapshot: ClusterSnapshot, previous: Mapping[str, Mapping[str, Any]],
                        configs: ConfigSource, deleting: Set[str]) -> tuple[list[UpdateConfigVolume],
                                                                             dict[str, dict[str, Any]]]:
    """Updates for the running pods whose volumes' ConfigMaps or Secrets changed, and the bookkeeping after
    this pass (the planned creates included). A volume whose object is gone keeps its last files (as the
    kubelet does); a pod on a host not seen this pass keeps its entry."""
    running = {pod.uid: pod for pod in snapshot.pods}
    seen_hosts = {h for h, f in snapshot.hosts.items() if f.ready}
    book: dict[str, dict[str, Any]] = {}
    updates: list[UpdateConfigVolume] = []
    for uid, entry in sorted(previous.items()):
        if uid in deleting:
            continue
        host = running[uid].host if uid in running else str(entry.get("host") or "")
        if uid not in running:
            if host not in seen_hosts:
                book[uid] = dict(entry)  # not seen: it may still run there
            continue
        volumes = {}
        for name, v in sorted((entry.get("volumes") or {}).items()):
            v = dict(v)
            try:
                files, version = volume_files(Volume.model_validate(v.get("spec") or {}), configs)  # type: ignore[misc]
            except (_Missing, ValueError):
                volumes[name] = v
                continue
            if version != v.get("version") and host in seen_hosts:
                cv = ConfigVolume(name, files, version, tuple(v.get("subPaths") or ()))
                spec = v.get("spec") or {}
                what = (f"configmap/{spec['configMap'].get('name')}" if spec.get("configMap")
                        else f"secret/{(spec.get('secret') or {}).get('secretName')}")
                updates.append(UpdateConfigVolume(host, str(entry.get("pod")), uid, f"{entry.get('dir')}/{name}", cv,
                                                  f"{what} changed (files updated in place, no restart)"))
                v["version"] = version
            volumes[name] = v
        book[uid] = {**entry, "volumes": volumes}
    for a in p.actions:
        if isinstance(a, CreatePod) and a.pod.config_volumes:
            book[a.pod.uid] = _entry(a)
    return updates, book
