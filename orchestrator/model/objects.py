"""The top-level objects a user applies: Pod, Service and the workloads (ReplicationController, and the
ReplicaSet and Deployment of apps/v1, all read as a `Workload` that keeps N pods of a template alive)."""

from __future__ import annotations

import ipaddress
import json
import re
from typing import Any, ClassVar, TypeAlias

from pydantic import Field, field_validator
from pydantic import ValidationError as PydanticValidationError
from pydantic_core import PydanticCustomError

from orchestrator.labels import (
    Selector,
    SelectorError,
    validate_dns1035_label,
    validate_dns1123_subdomain,
    validate_label_selector,
)
from orchestrator.model.fields import (
    FieldErrors,
    IntOrString,
    K8sModel,
    OneOf,
    duplicate,
    error_pairs,
    fields_error,
    forbidden,
    invalid,
    required,
    unsupported,
)
from orchestrator.model.meta import ObjectMeta, _split, label_map_errors
from orchestrator.model.pod import PodSpec, PodTemplateSpec, int_or_name_port_errors, port_range_errors

HAPROXY_TEMPLATE_ANNOTATION = "orc.io/haproxy-template"
AUTO_ROLLBACK_ANNOTATION = "orc.io/auto-rollback"  # "true": a rollout past its progress deadline is undone
_TEMPLATE_NAME_RE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,254}")  # a file name: at most 255 bytes


class K8sObject(K8sModel):
    """What every applied object has: apiVersion, kind, metadata; a stable key and a canonical manifest."""

    API_VERSION: ClassVar[str] = "v1"
    KEY_PREFIX: ClassVar[str] = ""

    api_version: str
    kind: str
    metadata: ObjectMeta = Field(default_factory=ObjectMeta, validate_default=True)
    # `kubectl get -o yaml` output carries a status: accepted so it applies, never stored.
    status: Any = Field(default=None, exclude=True)

    @property
    def name(self) -> str:
        return self.metadata.name or ""

    @property
    def labels(self) -> dict[str, str]:
        return self.metadata.label_dict

    @property
    def key(self) -> str:
        """Stable identity in the store: "pod/web-1", "rc/web", "rs/web", "deploy/web", "svc/web"."""
        return f"{self.KEY_PREFIX}/{self.name}"

    def to_manifest(self) -> dict[str, Any]:
        """The canonical manifest: Kubernetes field names, no empty fields, no server-set metadata."""
        return self.model_dump(by_alias=True, exclude_none=True, mode="json")

    def manifest_json(self) -> str:
        """to_manifest() as JSON with sorted keys, computed once per object (see K8sModel.memo)."""
        return self.memo("manifest_json", lambda: json.dumps(self.to_manifest(), sort_keys=True, default=str))

    @classmethod
    def name_errors(cls, name: str) -> list[str]:
        return validate_dns1123_subdomain(name)

    @field_validator("metadata", mode="wrap")
    @classmethod
    def _check_name(cls, meta: Any, handler: Any) -> ObjectMeta:
        # A field validator, so a bad name is reported even when other parts of the object are invalid,
        # and a wrap one, so it is reported with the other problems of metadata too.
        name = meta.get("name") if isinstance(meta, dict) else getattr(meta, "name", None)
        errors: FieldErrors = []
        if not name:
            errors = [("name", required("name or generateName is required"))]
        elif isinstance(name, str):
            errors = [("name", invalid(name, m)) for m in cls.name_errors(name)]
        try:
            out: ObjectMeta = handler(meta)
        except PydanticValidationError as e:
            inner = error_pairs(e)
            raise fields_error([*errors, *(p for p in inner if p[0] != "name" or not errors)]) from None
        if errors:
            raise fields_error(errors)
        return out


class Pod(K8sObject):
    KEY_PREFIX: ClassVar[str] = "pod"
    spec: PodSpec


class Workload(K8sObject):
    """A controller that keeps `replicas` pods matching `selector` alive from `spec.template` (an RC, or a
    ReplicaSet / Deployment read the same way). Each kind has its own key, "rc/web", "rs/web",
    "deploy/web", so same-named objects of different kinds coexist; the key is also the owner its pods
    carry (docker label `orc.owner`)."""

    spec: Any  # narrowed by each kind

    @property
    def replicas(self) -> int:
        return 1 if self.spec.replicas is None else self.spec.replicas

    @property
    def template(self) -> PodTemplateSpec:
        return self.spec.template

    @property
    def selector(self) -> Selector:
        raise NotImplementedError

    def _selector_errors(self) -> FieldErrors:
        raise NotImplementedError

    def check(self) -> FieldErrors:
        errors: FieldErrors = []
        policy = self.template.spec.restart_policy
        if policy not in (None, "Always"):
            errors.append(("spec.template.spec.restartPolicy", unsupported(policy, ["Always"])))
        errors += self._selector_errors()
        auto = (self.metadata.annotations or {}).get(AUTO_ROLLBACK_ANNOTATION)
        if auto is not None and auto not in ("true", "false"):
            errors.append(("metadata.annotations", invalid(
                auto, f'the annotation {AUTO_ROLLBACK_ANNOTATION} must be "true" or "false"')))
        return errors

    @classmethod
    def template_label_errors(cls, doc: Any) -> FieldErrors:
        """Whether the selector picks the template's own pods, read from the raw document so the mistake is
        reported even when other parts of the object are invalid (skipped when either part is unreadable)."""
        spec = doc.get("spec") if isinstance(doc, dict) else None
        template = spec.get("template") if isinstance(spec, dict) else None
        if not isinstance(template, dict):
            return []
        meta = template.get("metadata")
        labels = (meta.get("labels") if isinstance(meta, dict) else None) or {}
        if not isinstance(labels, dict) or not all(isinstance(v, str) for v in labels.values()):
            return []
        raw = spec.get("selector") if isinstance(spec, dict) else None
        try:
            sel = cls.raw_selector(raw)
        except (SelectorError, TypeError, AttributeError, KeyError):
            return []
        if sel is None:
            return []
        if sel.empty:
            return [("spec.selector", invalid({}, "empty selector is invalid for deployment"))]
        if not sel.matches(labels):
            return [
                (
                    "spec.template.metadata.labels",
                    invalid(labels, "`selector` does not match template `labels`"),
                )
            ]
        return []

    @classmethod
    def raw_selector(cls, raw: Any) -> Selector | None:
        raise NotImplementedError


class _WorkloadSpecBase(K8sModel):
    replicas: int | None = None
    min_ready_seconds: int | None = None
    template: PodTemplateSpec

    @field_validator("replicas", "min_ready_seconds")
    @classmethod
    def _nonnegative(cls, value: int | None) -> int | None:
        # Field validators: reported even when the template is invalid.
        if value is not None and value < 0:
            raise PydanticCustomError(
                "orc_body", "{body}", {"body": invalid(value, "must be greater than or equal to 0")}
            )
        return value


class ReplicationControllerSpec(_WorkloadSpecBase):
    selector: dict[str, Any] | None = None


class ReplicaSetSpec(_WorkloadSpecBase):
    selector: dict[str, Any]


class RollingUpdateDeployment(K8sModel):
    max_surge: IntOrString | None = None
    max_unavailable: IntOrString | None = None

    def check(self) -> FieldErrors:
        errors: FieldErrors = []
        for alias, value in (("maxSurge", self.max_surge), ("maxUnavailable", self.max_unavailable)):
            if isinstance(value, int) and value < 0:
                errors.append((alias, invalid(value, "must be greater than or equal to 0")))
            elif isinstance(value, str) and not re.fullmatch(r"[0-9]+%", value):
                errors.append((alias, invalid(value, "must be an integer or percentage (e.g. '5%')")))
            elif alias == "maxUnavailable" and isinstance(value, str) and int(value[:-1]) > 100:
                errors.append((alias, invalid(value, "must not be greater than 100%")))
        if self.max_unavailable in (0, "0%") and self.max_surge in (0, "0%"):
            errors.append(
                ("maxUnavailable", invalid(self.max_unavailable, "may not be 0 when `maxSurge` is 0"))
            )
        return errors


class DeploymentStrategy(K8sModel):
    type: OneOf("RollingUpdate", "Recreate") | None = None  # type: ignore[valid-type]
    rolling_update: RollingUpdateDeployment | None = None

    def check(self) -> FieldErrors:
        if self.type == "Recreate" and self.rolling_update is not None:
            return [("rollingUpdate", forbidden("may not be specified when strategy `type` is 'Recreate'"))]
        return []


class DeploymentSpec(ReplicaSetSpec):
    strategy: DeploymentStrategy | None = None
    revision_history_limit: int | None = None
    progress_deadline_seconds: int | None = None
    paused: bool | None = None

    @field_validator("revision_history_limit")
    @classmethod
    def _history_nonnegative(cls, value: int | None) -> int | None:
        return cls._nonnegative(value)

    def check(self) -> FieldErrors:
        deadline, ready = self.progress_deadline_seconds, self.min_ready_seconds or 0
        if deadline is not None and deadline <= ready:
            return [("progressDeadlineSeconds",
                     invalid(deadline, "must be greater than minReadySeconds" if ready else "must be greater than 0"))]
        return []


class ReplicationController(Workload):
    KEY_PREFIX: ClassVar[str] = "rc"
    spec: ReplicationControllerSpec

    @property
    def selector(self) -> Selector:
        """spec.selector, or (as Kubernetes defaults it) the template's labels."""
        return Selector.from_dict(self.spec.selector or self.template.labels)

    @classmethod
    def raw_selector(cls, raw: Any) -> Selector | None:
        # An RC without a selector selects its template's labels, so it always matches.
        return Selector.from_dict(raw) if raw else None

    def _selector_errors(self) -> FieldErrors:
        if not self.spec.selector and not self.template.labels:
            return [("spec.selector", required())]
        return label_map_errors(self.spec.selector, "spec.selector")


class ReplicaSet(Workload):
    API_VERSION: ClassVar[str] = "apps/v1"
    KEY_PREFIX: ClassVar[str] = "rs"
    spec: ReplicaSetSpec

    @property
    def selector(self) -> Selector:
        return Selector.from_label_selector(self.spec.selector)

    @classmethod
    def raw_selector(cls, raw: Any) -> Selector | None:
        return Selector.from_label_selector(raw) if isinstance(raw, dict) else None

    def _selector_errors(self) -> FieldErrors:
        return [_split(line) for line in validate_label_selector(self.spec.selector, "spec.selector")]


class Deployment(ReplicaSet):
    KEY_PREFIX: ClassVar[str] = "deploy"
    spec: DeploymentSpec


class ServicePort(K8sModel):
    name: str | None = None
    port: int
    target_port: IntOrString | None = None
    node_port: int | None = None
    protocol: OneOf("TCP") | None = None  # type: ignore[valid-type]

    def check(self) -> FieldErrors:
        errors = port_range_errors("port", self.port)
        if self.name:
            errors += [("name", invalid(self.name, m)) for m in validate_dns1035_label(self.name)]
        if self.target_port is not None:
            errors += int_or_name_port_errors("targetPort", self.target_port)
        if self.node_port is not None:
            errors += port_range_errors("nodePort", self.node_port)
        return errors

    @property
    def target(self) -> int | str:
        """targetPort, defaulting (as in Kubernetes) to port."""
        return self.port if self.target_port is None else self.target_port


class ServiceSpec(K8sModel):
    # LoadBalancer is served as NodePort (orc has no load balancer; apply says so)
    type: OneOf("ClusterIP", "NodePort", "LoadBalancer") | None = None  # type: ignore[valid-type]
    ports: list[ServicePort]
    selector: dict[str, Any] | None = None
    cluster_ip: str | None = Field(default=None, alias="clusterIP")
    # What `kubectl get -o yaml` exports, restating what orc does: accepted with these values only.
    cluster_ips: list[str] | None = Field(default=None, alias="clusterIPs")
    session_affinity: OneOf("None") | None = None  # type: ignore[valid-type]
    ip_families: list[OneOf("IPv4")] | None = None  # type: ignore[valid-type]
    ip_family_policy: OneOf("SingleStack") | None = None  # type: ignore[valid-type]
    internal_traffic_policy: OneOf("Cluster") | None = None  # type: ignore[valid-type]
    external_traffic_policy: OneOf("Cluster") | None = None  # type: ignore[valid-type]

    def check(self) -> FieldErrors:
        errors: FieldErrors = []
        if self.cluster_ips is not None and self.cluster_ips != ([self.cluster_ip] if self.cluster_ip else []):
            errors.append(("clusterIPs", invalid(self.cluster_ips, "must hold exactly the `clusterIP` "
                                                 "(one IPv4 address); or omit it")))
        if not self.ports:
            errors.append(("ports", required()))
        names: set[str] = set()
        numbers: set[int] = set()
        node_ports: set[int] = set()
        for i, p in enumerate(self.ports):
            if len(self.ports) > 1 and not p.name:
                errors.append((f"ports[{i}].name", required()))
            if p.name:
                if p.name in names:
                    errors.append((f"ports[{i}].name", duplicate(p.name)))
                names.add(p.name)
            if p.port in numbers:
                errors.append((f"ports[{i}].port", duplicate(p.port)))
            numbers.add(p.port)
            if p.node_port is not None:
                if (self.type or "ClusterIP") == "ClusterIP":
                    errors.append(
                        (f"ports[{i}].nodePort", forbidden("may not be used when `type` is 'ClusterIP'"))
                    )
                elif p.node_port in node_ports:
                    errors.append((f"ports[{i}].nodePort", duplicate(p.node_port)))
                node_ports.add(p.node_port)
        errors += label_map_errors(self.selector, "selector")
        if self.cluster_ip == "None":  # headless: no address, no proxy; its name resolves to its pods' hosts
            if (self.type or "ClusterIP") != "ClusterIP":
                errors.append(("clusterIP", invalid("None", "may not be set to 'None' for NodePort services")))
        elif self.cluster_ip:
            try:
                ipaddress.IPv4Address(self.cluster_ip)
            except ValueError:
                errors.append(
                    ("clusterIP", invalid(self.cluster_ip, "must be a valid IPv4 address (e.g. 10.233.0.10)"))
                )
        return errors


class Service(K8sObject):
    KEY_PREFIX: ClassVar[str] = "svc"
    spec: ServiceSpec

    @classmethod
    def name_errors(cls, name: str) -> list[str]:
        return validate_dns1035_label(name)

    @property
    def selector(self) -> Selector | None:
        """The pods behind the service; None when it has no selector (then it has no endpoints)."""
        return Selector.from_dict(self.spec.selector) if self.spec.selector else None

    @property
    def headless(self) -> bool:
        """`clusterIP: None`: no cluster IP and no proxy; pods resolve its name to every ready endpoint's
        address (proxy.discovery.hosts_file)."""
        return self.spec.cluster_ip == "None"

    @property
    def type(self) -> str:
        """ClusterIP or NodePort: a LoadBalancer service is served as a NodePort one."""
        kind = self.spec.type or "ClusterIP"
        return "NodePort" if kind == "LoadBalancer" else kind

    @property
    def haproxy_template(self) -> str | None:
        """The template file (in the project's templates/) named by the orc.io/haproxy-template annotation."""
        return (self.metadata.annotations or {}).get(HAPROXY_TEMPLATE_ANNOTATION)

    def check(self) -> FieldErrors:
        errors: FieldErrors = []
        tpl = (self.metadata.annotations or {}).get(HAPROXY_TEMPLATE_ANNOTATION)
        if tpl is not None and not (isinstance(tpl, str) and _TEMPLATE_NAME_RE.fullmatch(tpl)):
            errors.append(
                (
                    "metadata.annotations",
                    invalid(
                        tpl,
                        f"{HAPROXY_TEMPLATE_ANNOTATION} must name a file in the templates folder "
                        '(e.g. "ambassador.cfg.j2"), without a path, at most 255 characters',
                    ),
                )
            )
        return errors


class PodDisruptionBudgetSpec(K8sModel):
    """policy/v1: how many of the pods `selector` picks must stay healthy (ready) when a drain evicts them or a
    rolling update removes old ones (plan/disruption.py)."""

    min_available: IntOrString | None = None
    max_unavailable: IntOrString | None = None
    selector: dict[str, Any] | None = None
    unhealthy_pod_eviction_policy: OneOf("IfHealthyBudget", "AlwaysAllow") | None = None  # type: ignore[valid-type]

    def check(self) -> FieldErrors:
        errors: FieldErrors = []
        for alias, value in (("minAvailable", self.min_available), ("maxUnavailable", self.max_unavailable)):
            if isinstance(value, int) and value < 0:
                errors.append((alias, invalid(value, "must be greater than or equal to 0")))
            elif isinstance(value, str) and not re.fullmatch(r"[0-9]+%", value):
                errors.append((alias, invalid(value, "must be an integer or percentage (e.g. '5%')")))
            elif isinstance(value, str) and int(value[:-1]) > 100:
                errors.append((alias, invalid(value, "must not be greater than 100%")))
        if self.min_available is not None and self.max_unavailable is not None:
            errors.append(("", invalid({"minAvailable": self.min_available, "maxUnavailable": self.max_unavailable},
                                       "minAvailable and maxUnavailable cannot be both set")))
        elif self.min_available is None and self.max_unavailable is None:
            errors.append(("minAvailable", required("set minAvailable or maxUnavailable (one of them)")))
        if self.selector is None:
            errors.append(("selector", required("the pods the budget covers ({} for every pod)")))
        else:
            errors += [_split(line) for line in validate_label_selector(self.selector, "selector")]
        return errors


class PodDisruptionBudget(K8sObject):
    API_VERSION: ClassVar[str] = "policy/v1"
    KEY_PREFIX: ClassVar[str] = "pdb"
    spec: PodDisruptionBudgetSpec

    @property
    def selector(self) -> Selector:
        return Selector.from_label_selector(self.spec.selector or {})


class Namespace(K8sObject):
    """`kind: Namespace` named `default`, which every cluster has: accepted, never stored (orc has one
    namespace); any other name is an error."""

    KEY_PREFIX: ClassVar[str] = "ns"
    spec: Any = None

    @classmethod
    def name_errors(cls, name: str) -> list[str]:
        if name != "default":
            return [f'orc has one namespace, "default": there is no namespace "{name}" to create (drop this '
                    'document and metadata.namespace from the others)']
        return []


KINDS: dict[str, type[K8sObject]] = {
    "Pod": Pod,
    "ReplicationController": ReplicationController,
    "Service": Service,
    "ReplicaSet": ReplicaSet,
    "Deployment": Deployment,
    "PodDisruptionBudget": PodDisruptionBudget,
    "Namespace": Namespace,
}

OUT_OF_SCOPE: dict[str, str] = {
    "StatefulSet": "no stable pod identities or volume claims here: use a Deployment (one per member if "
                   "each needs its own name)",
    "DaemonSet": "for one pod per host use a Deployment with replicas = hosts and a required pod anti-affinity",
    "Job": "orc keeps long-running pods alive; run one-off work as a bare Pod with restartPolicy: OnFailure",
    "CronJob": "run the work from cron (`orc exec POD -- CMD`) or as a bare Pod",
    "Ingress": "for HTTP routing use a NodePort Service and a HAProxy template of your own "
               "(annotation orc.io/haproxy-template)",
    "IngressClass": "for HTTP routing use a NodePort Service and a HAProxy template of your own",
    "NetworkPolicy": "orc does not filter traffic between pods",
    "PersistentVolume": "use a hostPath volume (with nodeName or a nodeSelector) for data that must persist",
    "PersistentVolumeClaim": "use a hostPath volume (with nodeName or a nodeSelector) for data that must persist",
    "StorageClass": "orc provisions no storage",
    "ServiceAccount": "orc has no API for pods to call: nothing to authenticate",
    "Role": "orc has no API for pods to call: nothing to authorize",
    "RoleBinding": "orc has no API for pods to call: nothing to authorize",
    "ClusterRole": "orc has no API for pods to call: nothing to authorize",
    "ClusterRoleBinding": "orc has no API for pods to call: nothing to authorize",
    "HorizontalPodAutoscaler": "scale with `orc scale` (from cron or your monitoring)",
    "LimitRange": "give each container its resources",
    "ResourceQuota": "orc has one namespace and no quotas",
    "EndpointSlice": "orc keeps endpoints itself (`orc get endpoints`)",
    "Endpoints": "orc keeps endpoints itself (`orc get endpoints`)",
}
"""Kinds orc does not run, with what to do instead (`orc apply` refuses each in one line)."""

from orchestrator.model.config import ConfigMap, Secret  # noqa: E402 - they build on K8sObject

KINDS["ConfigMap"] = ConfigMap
KINDS["Secret"] = Secret

Object: TypeAlias = Pod | Workload | Service | PodDisruptionBudget | Namespace | ConfigMap | Secret
