"""The desired state: Kubernetes v1 manifests (Pod, ReplicationController, Service; apps/v1 ReplicaSet and
Deployment read as a ReplicationController-like Workload), validated as kubectl would.

    docs = load_documents(["manifests/"])       # files, folders, "-" for stdin
    objects = parse_objects(docs)                # raises orchestrator.errors.ValidationError(errors)
    obj.key, obj.to_manifest(), spec_hash(rc.template), pod_requests(pod.spec), host_ports(pod.spec)
"""

from orchestrator.model.helpers import host_ports, pod_requests, spec_hash
from orchestrator.model.load import (
    Document,
    load_documents,
    load_objects,
    parse_objects,
    read_objects,
    validate_document,
)
from orchestrator.model.meta import DEFAULT_NAMESPACE, ObjectMeta
from orchestrator.model.objects import (
    HAPROXY_TEMPLATE_ANNOTATION,
    KINDS,
    Deployment,
    K8sObject,
    Object,
    Pod,
    ReplicaSet,
    ReplicationController,
    Service,
    ServicePort,
    ServiceSpec,
    Workload,
)
from orchestrator.model.pod import Container, ContainerPort, PodSpec, PodTemplateSpec, Probe, Volume
from orchestrator.model.scheduling import (
    Affinity,
    NodeSelector,
    NodeSelectorRequirement,
    NodeSelectorTerm,
    PodAffinityTerm,
    Toleration,
    TopologySpreadConstraint,
)

__all__ = [
    "DEFAULT_NAMESPACE",
    "HAPROXY_TEMPLATE_ANNOTATION",
    "KINDS",
    "Affinity",
    "Container",
    "ContainerPort",
    "Deployment",
    "Document",
    "K8sObject",
    "NodeSelector",
    "NodeSelectorRequirement",
    "NodeSelectorTerm",
    "Object",
    "ObjectMeta",
    "Pod",
    "PodAffinityTerm",
    "PodSpec",
    "PodTemplateSpec",
    "Probe",
    "ReplicaSet",
    "ReplicationController",
    "Service",
    "ServicePort",
    "ServiceSpec",
    "Toleration",
    "TopologySpreadConstraint",
    "Volume",
    "Workload",
    "host_ports",
    "load_documents",
    "load_objects",
    "read_objects",
    "parse_objects",
    "pod_requests",
    "spec_hash",
    "validate_document",
]
