"""What a pod takes from ConfigMaps and Secrets, resolved (pure): `envFrom`, `configMapKeyRef` /
`secretKeyRef` env values, and the files of `configMap` / `secret` volumes. A reference that cannot be
met (and is not optional) keeps the pod from starting, with the kubelet's message
(CreateContainerConfigError: `configmap "x" not found`); no message ever holds a value.

A volume's `version` names what its files were made from (a ConfigMap's content digest; a Secret's value id,
or a keyed digest of a folder Secret), so a pass sees that a running pod's files are stale without the
bookkeeping ever holding a digest of a secret one could guess from.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field

from orchestrator.commands.base import Secret
from orchestrator.model.pod import ConfigMapVolumeSource, Container, PodSpec, Volume, shell_name
from orchestrator.model.text import env_file_safe

CONFIG_ERROR = "CreateContainerConfigError"
_ENV_NAME_OK = __import__("re").compile(r"[-._a-zA-Z][-._a-zA-Z0-9]*")


@dataclass(frozen=True)
class ConfigSource:
    """The ConfigMaps and Secrets a pass can give pods: applied ones (the store, the secret-values file) and
    the `secrets/` folder's (an applied Secret of the same name wins; apply refuses such a clash)."""

    config_maps: Mapping[str, Mapping[str, bytes]] = field(default_factory=dict)
    secrets: Mapping[str, Mapping[str, bytes]] = field(default_factory=dict, repr=False)
    versions: Mapping[str, str] = field(default_factory=dict)  # "cm/x", "secret/x" -> version of its content

    def lookup(self, kind: str, name: str) -> Mapping[str, bytes] | None:
        return (self.config_maps if kind == "configmap" else self.secrets).get(name)

    def version(self, kind: str, name: str) -> str:
        return self.versions.get(("cm/" if kind == "configmap" else "secret/") + name, "")


def content_version(values: Mapping[str, bytes]) -> str:
    """A ConfigMap's content digest (never used for a Secret: see `keyed_version`)."""
    h = hashlib.sha256()
    for k in sorted(values):
        h.update(json.dumps(k).encode() + b"\0" + hashlib.sha256(values[k]).digest())
    return h.hexdigest()[:16]


def keyed_version(values: Mapping[str, bytes], key: bytes) -> str:
    """A folder Secret's version: a digest keyed with the project's own random key (secret_store)."""
    h = hashlib.blake2b(key=key[:64], digest_size=8)
    for k in sorted(values):
        h.update(json.dumps(k).encode() + b"\0" + hashlib.sha256(values[k]).digest())
    return h.hexdigest()


@dataclass(frozen=True)
class ConfigFile:
    path: str  # relative to the volume
    data: bytes = field(repr=False)
    mode: int = 0o644


@dataclass(frozen=True)
class ConfigVolume:
    name: str
    files: tuple[ConfigFile, ...] = field(repr=False)
    version: str = ""
    sub_paths: tuple[str, ...] = ()  # mounted by subPath: not updated in place, as in Kubernetes


@dataclass
class Resolved:
    env_from: dict[str, dict[str, str]] = field(default_factory=dict)  # container -> var -> value
    key_env: dict[str, dict[str, str]] = field(default_factory=dict, repr=False)  # container -> var -> value
    volumes: tuple[ConfigVolume, ...] = ()
    error: str = ""


class _Missing(Exception):
    pass


def _kind_word(kind: str) -> str:
    return "ConfigMap" if kind == "configmap" else "Secret"


def _text(kind: str, name: str, key: str, raw: bytes, var: str) -> str:
    try:
        value = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise _Missing(f"couldn't use key {key} of {kind} \"{name}\" as environment variable {var}: it is not "
                       "UTF-8 text (mount it as a file instead)") from None
    if "\x00" in value:
        raise _Missing(f"couldn't use key {key} of {kind} \"{name}\" as environment variable {var}: it holds a "
                       "NUL byte (mount it as a file instead)")
    if not env_file_safe(var, value) and not shell_name(var):
        raise _Missing(f"couldn't use key {key} of {kind} \"{name}\" as environment variable {var}: its value has "
                       "a line break or a carriage return, so the variable must be named with letters, digits "
                       "and '_' only (orc passes it through a shell)")
    return Secret(value) if kind == "secret" else value


def _container_env(c: Container, src: ConfigSource) -> tuple[dict[str, str], dict[str, str]]:
    env_from: dict[str, str] = {}
    for ef in c.env_from or []:
        kind, ref = ("configmap", ef.config_map_ref) if ef.config_map_ref else ("secret", ef.secret_ref)
        assert ref is not None
        values = src.lookup(kind, ref.name)
        if values is None:
            if ref.optional:
                continue
            raise _Missing(f'{kind} "{ref.name}" not found')
        for key in sorted(values):
            var = (ef.prefix or "") + key
            if not _ENV_NAME_OK.fullmatch(var):
                continue  # as the kubelet: a key that is no variable name is skipped
            env_from[var] = _text(kind, ref.name, key, values[key], var)
    key_env: dict[str, str] = {}
    for e in c.env or []:
        vf = e.value_from
        if vf is None or (vf.config_map_key_ref is None and vf.secret_key_ref is None):
            continue
        kind, kref = ("configmap", vf.config_map_key_ref) if vf.config_map_key_ref else ("secret", vf.secret_key_ref)
        assert kref is not None
        values = src.lookup(kind, kref.name)
        if values is None or kref.key not in values:
            if kref.optional:
                continue
            if values is None:
                raise _Missing(f'{kind} "{kref.name}" not found')
            raise _Missing(f"couldn't find key {kref.key} in {_kind_word(kind)} default/{kref.name}")
        key_env[e.name] = _text(kind, kref.name, kref.key, values[kref.key], e.name)
    return env_from, key_env


def volume_files(v: Volume, src: ConfigSource) -> tuple[tuple[ConfigFile, ...], str] | None:
    """The files of a configMap/secret volume and their version; None for an optional one whose object is
    missing (an empty volume, as Kubernetes makes it). Raises _Missing otherwise."""
    source = v.config_source
    assert source is not None
    kind = "configmap" if isinstance(source, ConfigMapVolumeSource) else "secret"
    values = src.lookup(kind, source.source)
    default = 0o644 if source.default_mode is None else source.default_mode
    if values is None:
        if source.optional:
            return (), "absent"
        raise _Missing(f'{kind} "{source.source}" not found')
    files: list[ConfigFile] = []
    if source.items:
        for item in source.items:
            if item.key not in values:
                if source.optional:
                    continue
                raise _Missing(f"{kind} references non-existent config key: {item.key}")
            files.append(ConfigFile(item.path, values[item.key], default if item.mode is None else item.mode))
    else:
        files = [ConfigFile(k, values[k], default) for k in sorted(values)]
    shape = json.dumps([kind, source.source, src.version(kind, source.source),
                        [(f.path, f.mode) for f in files]]).encode()
    return tuple(files), hashlib.sha256(shape).hexdigest()[:16]


def resolve(spec: PodSpec, src: ConfigSource) -> Resolved:
    """Everything a new pod takes from ConfigMaps and Secrets, or `error` (the kubelet's message)."""
    out = Resolved()
    try:
        for c in spec.all_containers:
            env_from, key_env = _container_env(c, src)
            if env_from:
                out.env_from[c.name] = env_from
            if key_env:
                out.key_env[c.name] = key_env
        volumes = []
        for v in spec.volumes or []:
            if v.config_source is None:
                continue
            files, version = volume_files(v, src)  # type: ignore[misc]
            subs = tuple(sorted({m.sub_path for c in spec.all_containers for m in c.volume_mounts or []
                                 if m.name == v.name and m.sub_path}))
            volumes.append(ConfigVolume(v.name, files, version, subs))
        out.volumes = tuple(volumes)
    except _Missing as e:
        return Resolved(error=str(e))
    return out


def uses_config(spec: PodSpec) -> bool:
    """Whether a pod takes anything from ConfigMaps or applied Secrets (beyond the folder's secretKeyRefs)."""
    if any(v.config_source is not None for v in spec.volumes or []):
        return True
    return any(c.env_from or any(e.value_from and e.value_from.config_map_key_ref for e in c.env or [])
               for c in spec.all_containers)
