"""The pod spec: containers (image, command, env, ports, resources, probes, mounts), volumes and placement."""

from __future__ import annotations

import re
from typing import Any

from orchestrator.labels import validate_dns1123_label
from orchestrator.model.fields import (
    FieldErrors,
    IntOrString,
    K8sModel,
    OneOf,
    duplicate,
    forbidden,
    invalid,
    not_found,
    required,
    unsupported,
)
from orchestrator.model.image_ref import image_reference_errors
from orchestrator.model.meta import ObjectMeta, label_map_errors
from orchestrator.model.scheduling import Affinity, Toleration, TopologySpreadConstraint
from orchestrator.model.security import PodSecurityContext, SecurityContext, identity_errors
from orchestrator.model.text import env_file_safe
from orchestrator.resources import QuantityError, parse_quantity

RESOURCE_NAMES = ("cpu", "memory", "ephemeral-storage", "nvidia.com/gpu")
WHOLE_RESOURCES = ("nvidia.com/gpu",)  # counted in whole devices; requests must equal limits
_QUANTITY_MSG = (
    "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$' "
    "(e.g. 500m, 0.5, 128Mi, 1.5Gi)"
)
_ENV_NAME_RE = re.compile(r"[-._a-zA-Z][-._a-zA-Z0-9]*")
_ENV_NAME_MSG = (
    "a valid environment variable name must consist of alphabetic characters, digits, '_', '-', or '.', and "
    "must not start with a digit (e.g. 'my.env-name',  or 'MY_ENV.NAME',  or 'MyEnvName1', regex used for "
    "validation is '[-._a-zA-Z][-._a-zA-Z0-9]*')"
)
_SHELL_NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
def shell_name(name: str) -> bool:
    """Whether a variable name is one a POSIX shell can assign (what the env_exports route needs)."""
    return bool(_SHELL_NAME_RE.fullmatch(name))


_PORT_NAME_RE = re.compile(r"[a-z0-9]([a-z0-9-]*[a-z0-9])?")


def port_range_errors(path: str, port: int, allow_zero: bool = False) -> FieldErrors:
    if allow_zero and port == 0:
        return []
    if 1 <= port <= 65535:
        return []
    return [(path, invalid(port, "must be between 1 and 65535, inclusive"))]


def port_name_errors(path: str, name: str) -> FieldErrors:
    """An IANA service name, as Kubernetes requires for named ports."""
    msgs = []
    if len(name) > 15:
        msgs.append("must be no more than 15 characters")
    if not re.fullmatch(r"[-a-z0-9]+", name):
        msgs.append("must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)")
    if "--" in name:
        msgs.append("must not contain consecutive hyphens")
    if not re.search(r"[a-z]", name):
        msgs.append("must contain at least one letter (a-z)")
    if name.startswith("-") or name.endswith("-"):
        msgs.append("must not begin or end with a hyphen")
    return [(path, invalid(name, m)) for m in msgs]


def int_or_name_port_errors(path: str, port: int | str) -> FieldErrors:
    if isinstance(port, int):
        return port_range_errors(path, port)
    return port_name_errors(path, port)


def _nonnegative(path: str, value: int | None) -> FieldErrors:
    if value is not None and value < 0:
        return [(path, invalid(value, "must be greater than or equal to 0"))]
    return []


class SecretKeySelector(K8sModel):
    name: str
    key: str
    optional: bool | None = None

    def check(self) -> FieldErrors:
        errors: FieldErrors = [] if self.name else [("name", required())]
        return errors + ([] if self.key else [("key", required())])


FIELD_PATHS = ("metadata.name", "metadata.namespace", "metadata.uid", "spec.nodeName", "spec.serviceAccountName",
               "status.hostIP", "status.podIP")
_LABEL_PATH_RE = re.compile(r"metadata\.(labels)\['([^'\]]+)'\]")


class ObjectFieldSelector(K8sModel):
    """`valueFrom.fieldRef`: a field of the pod, given to the container when it starts (Downward API)."""

    api_version: OneOf("v1") | None = None  # type: ignore[valid-type]
    field_path: str

    def check(self) -> FieldErrors:
        if self.field_path in FIELD_PATHS or _LABEL_PATH_RE.fullmatch(self.field_path):
            return []
        return [("fieldPath", unsupported(self.field_path, [*FIELD_PATHS, "metadata.labels['<KEY>']"]))]

    @property
    def label(self) -> tuple[str, str] | None:
        """("labels", key) for metadata.labels['key'], else None."""
        m = _LABEL_PATH_RE.fullmatch(self.field_path)
        return (m.group(1), m.group(2)) if m else None


class ConfigMapKeySelector(SecretKeySelector):
    """`valueFrom.configMapKeyRef`: one key of a ConfigMap."""


class EnvVarSource(K8sModel):
    secret_key_ref: SecretKeySelector | None = None
    config_map_key_ref: ConfigMapKeySelector | None = None
    field_ref: ObjectFieldSelector | None = None

    def check(self) -> FieldErrors:
        given = [name for name, v in (("secretKeyRef", self.secret_key_ref), ("fieldRef", self.field_ref),
                                      ("configMapKeyRef", self.config_map_key_ref)) if v is not None]
        if not given:
            return [("", required("must specify one of: `configMapKeyRef`, `fieldRef` or `secretKeyRef`"))]
        if len(given) > 1:
            return [("", invalid("", "may not have more than one field specified at a time"))]
        return []


class EnvVar(K8sModel):
    name: str
    value: str | None = None
    value_from: EnvVarSource | None = None

    def check(self) -> FieldErrors:
        errors: FieldErrors = []
        if not self.name:
            errors.append(("name", required()))
        elif not _ENV_NAME_RE.fullmatch(self.name):
            errors.append(("name", invalid(self.name, _ENV_NAME_MSG)))
        if self.value and self.value_from is not None:
            errors.append(("valueFrom", invalid("", "may not be specified when `value` is not empty")))
        ref = self.value_from.field_ref if self.value_from else None
        if ref is not None and ref.field_path == "status.podIP" and self.name and not shell_name(self.name):
            errors.append(("name", invalid(self.name, "a variable set from status.podIP must be named with "
                                           "letters, digits and '_' only (orc sets it through a shell)")))
        if self.value and self.name and not env_file_safe(self.name, self.value) and not shell_name(self.name):
            errors.append(("name", invalid(self.name, "a variable whose value has a line break (or a carriage "
                                           "return, or is over 64 KiB) must be named with letters, digits and "
                                           "'_' only (orc passes it through a shell)")))
        return errors


class EnvFromRef(K8sModel):
    name: str
    optional: bool | None = None

    def check(self) -> FieldErrors:
        return [] if self.name else [("name", required())]


class EnvFromSource(K8sModel):
    """`envFrom`: every key of a ConfigMap or Secret as a variable (`prefix` before each name)."""

    prefix: str | None = None
    config_map_ref: EnvFromRef | None = None
    secret_ref: EnvFromRef | None = None

    def check(self) -> FieldErrors:
        errors: FieldErrors = []
        given = [v for v in (self.config_map_ref, self.secret_ref) if v is not None]
        if not given:
            errors.append(("", required("must specify one of: `configMapRef` or `secretRef`")))
        elif len(given) > 1:
            errors.append(("", invalid("", "may not have more than one field specified at a time")))
        if self.prefix and not _ENV_NAME_RE.fullmatch(self.prefix):
            errors.append(("prefix", invalid(self.prefix, _ENV_NAME_MSG)))
        return errors


class ContainerPort(K8sModel):
    container_port: int
    host_port: int | None = None
    name: str | None = None
    protocol: OneOf("TCP", "UDP") | None = None  # type: ignore[valid-type]

    def check(self) -> FieldErrors:
        errors = port_range_errors("containerPort", self.container_port)
        if self.host_port is not None:
            errors += port_range_errors("hostPort", self.host_port, allow_zero=True)
        if self.name is not None:
            errors += port_name_errors("name", self.name)
        return errors


class ResourceRequirements(K8sModel):
    requests: dict[str, Any] | None = None
    limits: dict[str, Any] | None = None

    def check(self) -> FieldErrors:
        errors: FieldErrors = []
        parsed: dict[str, dict[str, Any]] = {"requests": {}, "limits": {}}
        for part in ("requests", "limits"):
            for name, q in (getattr(self, part) or {}).items():
                path = f"{part}[{name}]"
                if name not in RESOURCE_NAMES:
                    errors.append((path, unsupported(name, RESOURCE_NAMES)))
                    continue
                try:
                    value = parse_quantity(q)
                except QuantityError as e:
                    detail = (
                        "must be greater than or equal to 0" if "greater than" in str(e) else _QUANTITY_MSG
                    )
                    errors.append((path, invalid(q, detail)))
                    continue
                if name in WHOLE_RESOURCES and value != value.to_integral_value():
                    errors.append((path, invalid(q, "must be an integer")))
                    continue
                parsed[part][name] = (q, value)
        for name, (q, value) in parsed["requests"].items():
            if name not in parsed["limits"]:
                continue
            limit_text, limit = parsed["limits"][name]
            if name in WHOLE_RESOURCES and value != limit:
                errors.append(
                    (f"requests[{name}]", invalid(q, f"must be equal to {name} limit of {limit_text}"))
                )
            elif value > limit:
                errors.append(
                    (
                        "requests",
                        invalid(str(q), f"must be less than or equal to {name} limit of {limit_text}"),
                    )
                )
        return errors


class HTTPHeader(K8sModel):
    name: str
    value: str


class HTTPGetAction(K8sModel):
    path: str | None = None
    port: IntOrString
    host: str | None = None
    scheme: OneOf("HTTP", "HTTPS") | None = None  # type: ignore[valid-type]
    http_headers: list[HTTPHeader] | None = None

    def check(self) -> FieldErrors:
        errors = int_or_name_port_errors("port", self.port)
        if self.path and re.search(r"[\s#\"'\\\x00-\x1f\x7f]", self.path):
            # the path also becomes HAProxy's `option httpchk GET <path>`: one word of its config
            errors.append(("path", invalid(self.path, "must be a URL path without whitespace, control "
                                           "characters, '#', quotes or backslashes (percent-encode them)")))
        return errors


class TCPSocketAction(K8sModel):
    port: IntOrString
    host: str | None = None

    def check(self) -> FieldErrors:
        return int_or_name_port_errors("port", self.port)


class ExecAction(K8sModel):
    command: list[str]

    def check(self) -> FieldErrors:
        return [] if self.command else [("command", required())]


class Probe(K8sModel):
    http_get: HTTPGetAction | None = None
    tcp_socket: TCPSocketAction | None = None
    exec: ExecAction | None = None
    initial_delay_seconds: int | None = None
    period_seconds: int | None = None
    timeout_seconds: int | None = None
    success_threshold: int | None = None
    failure_threshold: int | None = None

    def check(self) -> FieldErrors:
        handlers = [h for h in (self.http_get, self.tcp_socket, self.exec) if h is not None]
        errors: FieldErrors = []
        if not handlers:
            errors.append(("", required("must specify a handler type (httpGet, tcpSocket or exec)")))
        elif len(handlers) > 1:
            errors.append(("", forbidden("may not specify more than 1 handler type")))
        for field, alias in (
            ("initial_delay_seconds", "initialDelaySeconds"),
            ("period_seconds", "periodSeconds"),
            ("timeout_seconds", "timeoutSeconds"),
            ("success_threshold", "successThreshold"),
            ("failure_threshold", "failureThreshold"),
        ):
            errors += _nonnegative(alias, getattr(self, field))
        return errors

    @property
    def named_port(self) -> str | None:
        action = self.http_get or self.tcp_socket
        return action.port if action is not None and isinstance(action.port, str) else None


class SleepAction(K8sModel):
    seconds: int

    def check(self) -> FieldErrors:
        return _nonnegative("seconds", self.seconds)


class LifecycleHandler(K8sModel):
    """A lifecycle hook: `exec` (run in the container), `httpGet` (sent from inside the container, with
    the nc, wget or curl its image has) or `sleep`."""

    exec: ExecAction | None = None
    http_get: HTTPGetAction | None = None
    sleep: SleepAction | None = None

    def check(self) -> FieldErrors:
        handlers = [h for h in (self.exec, self.http_get, self.sleep) if h is not None]
        if not handlers:
            return [("", required("must specify a handler type (exec, httpGet or sleep)"))]
        if len(handlers) > 1:
            return [("", forbidden("may not specify more than 1 handler type"))]
        return []


class Lifecycle(K8sModel):
    """`lifecycle.preStop` only: run before the container is stopped, within its grace period."""

    pre_stop: LifecycleHandler | None = None


class VolumeMount(K8sModel):
    name: str
    mount_path: str
    read_only: bool | None = None
    sub_path: str | None = None

    def check(self) -> FieldErrors:
        errors: FieldErrors = [] if self.mount_path else [("mountPath", required())]
        if self.sub_path and (self.sub_path.startswith("/") or ".." in self.sub_path.split("/")):
            errors.append(("subPath", invalid(self.sub_path, "must be a relative path without '..'")))
        return errors


class Container(K8sModel):
    name: str
    image: str | None = None
    command: list[str] | None = None
    args: list[str] | None = None
    env: list[EnvVar] | None = None
    env_from: list[EnvFromSource] | None = None
    ports: list[ContainerPort] | None = None
    resources: ResourceRequirements | None = None
    liveness_probe: Probe | None = None
    readiness_probe: Probe | None = None
    startup_probe: Probe | None = None
    lifecycle: Lifecycle | None = None
    volume_mounts: list[VolumeMount] | None = None
    working_dir: str | None = None
    image_pull_policy: OneOf("Always", "IfNotPresent", "Never") | None = None  # type: ignore[valid-type]
    # Kubernetes' defaults, as `kubectl get -o yaml` exports them: accepted with these values only.
    termination_message_path: OneOf("/dev/termination-log") | None = None  # type: ignore[valid-type]
    termination_message_policy: OneOf("File") | None = None  # type: ignore[valid-type]
    security_context: SecurityContext | None = None

    def check(self) -> FieldErrors:
        errors: FieldErrors = []
        if not self.name:
            errors.append(("name", required()))
        else:
            errors += [("name", invalid(self.name, m)) for m in validate_dns1123_label(self.name)]
        if not self.image or not self.image.strip():
            errors.append(("image", required()))
        else:
            errors += [("image", invalid(self.image, m)) for m in image_reference_errors(self.image)]
        port_names = [p.name for p in self.ports or [] if p.name]
        probes = {"livenessProbe": self.liveness_probe, "readinessProbe": self.readiness_probe,
                  "startupProbe": self.startup_probe}
        for probe_name, probe in probes.items():
            if probe is None:
                continue
            named = probe.named_port
            if named is not None and named not in port_names:
                kind = "httpGet" if probe.http_get else "tcpSocket"
                errors.append((f"{probe_name}.{kind}.port", not_found(named)))
        for probe_name in ("livenessProbe", "startupProbe"):
            probe = probes[probe_name]
            if probe is not None and probe.success_threshold not in (None, 1):
                errors.append((f"{probe_name}.successThreshold", invalid(probe.success_threshold, "must be 1")))
        hook = self.lifecycle.pre_stop if self.lifecycle else None
        if hook is not None and hook.http_get is not None and isinstance(hook.http_get.port, str) \
                and hook.http_get.port not in port_names:
            errors.append(("lifecycle.preStop.httpGet.port", not_found(hook.http_get.port)))
        return errors


class EmptyDirVolumeSource(K8sModel):
    medium: OneOf("", "Memory") | None = None  # type: ignore[valid-type]
    size_limit: str | int | None = None

    def check(self) -> FieldErrors:
        if self.size_limit is None:
            return []
        try:
            parse_quantity(self.size_limit)
        except QuantityError:
            return [("sizeLimit", invalid(self.size_limit, _QUANTITY_MSG))]
        return []


HOST_PATH_TYPES = (
    "",
    "DirectoryOrCreate",
    "Directory",
    "FileOrCreate",
    "File",
    "Socket",
    "CharDevice",
    "BlockDevice",
)


class HostPathVolumeSource(K8sModel):
    path: str
    type: OneOf(*HOST_PATH_TYPES) | None = None  # type: ignore[valid-type]

    def check(self) -> FieldErrors:
        if not self.path:
            return [("path", required())]
        if not self.path.startswith("/"):
            return [("path", invalid(self.path, "must be an absolute path"))]
        return []


def _mode_errors(path: str, mode: int | None) -> FieldErrors:
    if mode is not None and not 0 <= mode <= 0o777:
        return [(path, invalid(mode, "must be a number between 0 and 0777 (octal), both inclusive"))]
    return []


class KeyToPath(K8sModel):
    key: str
    path: str
    mode: int | None = None

    def check(self) -> FieldErrors:
        errors: FieldErrors = [] if self.key else [("key", required())]
        if not self.path:
            errors.append(("path", required()))
        elif self.path.startswith("/") or ".." in self.path.split("/") or self.path.startswith(".."):
            errors.append(("path", invalid(self.path, "must be a relative path without '..' (and not start "
                                           "with '..')")))
        return errors + _mode_errors("mode", self.mode)


class ConfigMapVolumeSource(K8sModel):
    name: str
    items: list[KeyToPath] | None = None
    default_mode: int | None = None
    optional: bool | None = None

    def check(self) -> FieldErrors:
        errors: FieldErrors = [] if self.name else [("name", required())]
        seen: set[str] = set()
        for i, item in enumerate(self.items or []):
            if item.path in seen:
                errors.append((f"items[{i}].path", duplicate(item.path)))
            seen.add(item.path)
        return errors + _mode_errors("defaultMode", self.default_mode)

    @property
    def source(self) -> str:
        return self.name


class SecretVolumeSource(K8sModel):
    secret_name: str
    items: list[KeyToPath] | None = None
    default_mode: int | None = None
    optional: bool | None = None

    def check(self) -> FieldErrors:
        errors: FieldErrors = [] if self.secret_name else [("secretName", required())]
        seen: set[str] = set()
        for i, item in enumerate(self.items or []):
            if item.path in seen:
                errors.append((f"items[{i}].path", duplicate(item.path)))
            seen.add(item.path)
        return errors + _mode_errors("defaultMode", self.default_mode)

    @property
    def source(self) -> str:
        return self.secret_name


class Volume(K8sModel):
    name: str
    empty_dir: EmptyDirVolumeSource | None = None
    host_path: HostPathVolumeSource | None = None
    config_map: ConfigMapVolumeSource | None = None
    secret: SecretVolumeSource | None = None

    @property
    def config_source(self) -> ConfigMapVolumeSource | SecretVolumeSource | None:
        """The ConfigMap or Secret this volume shows as files, if it is one of those."""
        return self.config_map or self.secret

    def check(self) -> FieldErrors:
        errors = [("name", invalid(self.name, m)) for m in validate_dns1123_label(self.name)]
        sources = [s for s in (self.empty_dir, self.host_path, self.config_map, self.secret) if s is not None]
        if not sources:
            errors.append(("", required("must specify a volume type (emptyDir, hostPath, configMap or secret)")))
        elif len(sources) > 1:
            errors.append(("", forbidden("may not specify more than 1 volume type")))
        return errors


class LocalObjectReference(K8sModel):
    name: str


_INIT_FORBIDDEN = (("lifecycle", "lifecycle"), ("liveness_probe", "livenessProbe"),
                   ("readiness_probe", "readinessProbe"), ("startup_probe", "startupProbe"))


def _mount_errors(c: Container, volumes: dict[str, Volume], at: str) -> FieldErrors:
    """A container's mounts: each names a volume of the pod; a subPath only where orc can bind one (a
    hostPath's folder, a configMap's or secret's file), not into an emptyDir's docker volume."""
    errors: FieldErrors = []
    for j, m in enumerate(c.volume_mounts or []):
        v = volumes.get(m.name)
        if v is None:
            errors.append((f"{at}.volumeMounts[{j}].name", not_found(m.name)))
        elif m.sub_path and v.empty_dir is not None:
            errors.append((f"{at}.volumeMounts[{j}].subPath", forbidden(
                "not supported on an emptyDir volume (docker volumes have no sub-paths here): mount the whole "
                "volume, or use a hostPath volume")))
    return errors


class PodSpec(K8sModel):
    containers: list[Container]
    init_containers: list[Container] | None = None  # run to completion, in order, before `containers`
    volumes: list[Volume] | None = None
    node_selector: dict[str, Any] | None = None
    node_name: str | None = None
    affinity: Affinity | None = None
    topology_spread_constraints: list[TopologySpreadConstraint] | None = None
    tolerations: list[Toleration] | None = None
    restart_policy: OneOf("Always", "OnFailure", "Never") | None = None  # type: ignore[valid-type]
    termination_grace_period_seconds: int | None = None
    # Kubernetes' defaults, as `kubectl get -o yaml` exports them: accepted with these values only.
    # ClusterFirst: service names resolve (the cluster's hosts file); Default: the node's resolution only.
    dns_policy: OneOf("ClusterFirst", "Default") | None = None  # type: ignore[valid-type]
    scheduler_name: OneOf("default-scheduler") | None = None  # type: ignore[valid-type]
    enable_service_links: bool | None = None
    priority: int | None = None
    preemption_policy: OneOf("PreemptLowerPriority") | None = None  # type: ignore[valid-type]
    # Accepted with a warning (model.warnings): nothing here gives them a meaning.
    service_account_name: str | None = None
    service_account: str | None = None
    automount_service_account_token: bool | None = None
    image_pull_secrets: list[LocalObjectReference] | None = None
    security_context: PodSecurityContext | None = None

    def check(self) -> FieldErrors:
        errors: FieldErrors = []
        if not self.containers:
            errors.append(("containers", required()))
        seen: set[str] = set()
        for part, cs in (("initContainers", self.init_containers or []), ("containers", self.containers)):
            for i, c in enumerate(cs):  # unique across init and app containers, as Kubernetes requires
                if c.name in seen:
                    errors.append((f"{part}[{i}].name", duplicate(c.name)))
                seen.add(c.name)
        volumes: dict[str, Volume] = {}
        for i, v in enumerate(self.volumes or []):
            if v.name in volumes:
                errors.append((f"volumes[{i}].name", duplicate(v.name)))
            volumes[v.name] = v
        host_ports: set[str] = set()
        for i, c in enumerate(self.containers):
            port_names: set[str] = set()  # unique within a container, as Kubernetes requires
            errors += _mount_errors(c, volumes, f"containers[{i}]")
            for j, p in enumerate(c.ports or []):
                if p.host_port:
                    hp = f"{p.host_port}/{p.protocol or 'TCP'}"
                    if hp in host_ports:
                        errors.append((f"containers[{i}].ports[{j}].hostPort", duplicate(hp)))
                    host_ports.add(hp)
                if p.name:
                    if p.name in port_names:
                        errors.append((f"containers[{i}].ports[{j}].name", duplicate(p.name)))
                    port_names.add(p.name)
        for i, c in enumerate(self.init_containers or []):
            for attr, alias in _INIT_FORBIDDEN:
                if getattr(c, attr) is not None:
                    errors.append((f"initContainers[{i}].{alias}", forbidden("may not be set for init containers")))
            if c.ports:
                errors.append((f"initContainers[{i}].ports", forbidden(
                    "may not be set for init containers (orc publishes the app containers' ports)")))
            errors += _mount_errors(c, volumes, f"initContainers[{i}]")
            errors += identity_errors(self.security_context, c.security_context,
                                      f"initContainers[{i}].securityContext")
        if self.enable_service_links is False:
            errors.append(("enableServiceLinks", unsupported(False, ["true"])))
        for i, c in enumerate(self.containers):
            errors += identity_errors(self.security_context, c.security_context, f"containers[{i}].securityContext")
        if self.security_context and self.security_context.fs_group is not None:
            for i, v in enumerate(self.volumes or []):
                if v.empty_dir is not None and v.empty_dir.medium != "Memory":
                    errors.append((f"volumes[{i}].emptyDir", invalid(
                        {}, "securityContext.fsGroup needs the pod's emptyDir volumes in memory (medium: Memory): "
                        "docker cannot give a volume on disk a group")))
        if self.priority not in (None, 0):
            errors.append(("priority", unsupported(self.priority, ["0"])))
        errors += label_map_errors(self.node_selector, "nodeSelector")
        errors += _nonnegative("terminationGracePeriodSeconds", self.termination_grace_period_seconds)
        if self.node_name is not None and not self.node_name:
            errors.append(("nodeName", invalid(self.node_name, "must name an inventory host")))
        return errors


    @property
    def all_containers(self) -> list[Container]:
        """Init containers (in order), then app containers: every container the pod runs."""
        return [*(self.init_containers or []), *self.containers]


class PodTemplateSpec(K8sModel):
    metadata: ObjectMeta | None = None
    spec: PodSpec

    @property
    def labels(self) -> dict[str, str]:
        return self.metadata.label_dict if self.metadata else {}
