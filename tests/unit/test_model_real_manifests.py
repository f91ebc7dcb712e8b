"""What real manifests use: a Deployment as `kubectl get -o yaml` exports it (every default restated, status,
managedFields) applies; fieldRef env; port names unique per container (not across the pod); fields that mean
nothing here accepted with a warning; an error about one field never drags in another."""

from __future__ import annotations

import pytest
import yaml

from orchestrator.errors import ValidationError
from orchestrator.model import parse_objects
from orchestrator.model.warnings import manifest_warnings

KUBECTL_EXPORT = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  annotations:
    deployment.kubernetes.io/revision: "1"
  creationTimestamp: "2026-01-05T10:00:00Z"
  generation: 1
  labels: {app: web}
  managedFields:
  - apiVersion: apps/v1
    fieldsType: FieldsV1
    manager: kubectl-create
    operation: Update
  name: web
  namespace: default
  resourceVersion: "1234"
  uid: 1f0e7a3c-4a7e-4b1e-9a59-0e7c2d7b9f10
spec:
  progressDeadlineSeconds: 600
  replicas: 2
  revisionHistoryLimit: 10
  selector:
    matchLabels: {app: web}
  strategy:
    rollingUpdate: {maxSurge: 25%, maxUnavailable: 25%}
    type: RollingUpdate
  template:
    metadata:
      creationTimestamp: null
      labels: {app: web}
    spec:
      containers:
      - image: local/busybox:1
        imagePullPolicy: IfNotPresent
        name: web
        ports:
        - {containerPort: 80, protocol: TCP}
        resources: {}
        terminationMessagePath: /dev/termination-log
        terminationMessagePolicy: File
      dnsPolicy: ClusterFirst
      enableServiceLinks: true
      preemptionPolicy: PreemptLowerPriority
      priority: 0
      restartPolicy: Always
      schedulerName: default-scheduler
      securityContext: {}
      serviceAccount: default
      serviceAccountName: default
      terminationGracePeriodSeconds: 30
status:
  availableReplicas: 2
  observedGeneration: 1
  readyReplicas: 2
  replicas: 2
"""


def errors_of(doc: dict) -> list[str]:
    with pytest.raises(ValidationError) as e:
        parse_objects([doc])
    return e.value.errors


def test_a_kubectl_export_applies_and_restated_defaults_are_not_warned_about() -> None:
    (deploy,) = parse_objects([yaml.safe_load(KUBECTL_EXPORT)])
    assert deploy.replicas == 2
    assert "managedFields" not in deploy.to_manifest()["metadata"] and "status" not in deploy.to_manifest()
    assert manifest_warnings([deploy]) == []


@pytest.mark.parametrize(("field", "value", "expected"), [
    ("dnsPolicy", "None", 'spec.dnsPolicy: Unsupported value: "None": supported values: "ClusterFirst", "Default"'),
    ("schedulerName", "my-scheduler", 'spec.schedulerName: Unsupported value: "my-scheduler"'),
    ("enableServiceLinks", False, 'spec.enableServiceLinks: Unsupported value: false'),
    ("priority", 1000, "spec.priority: Unsupported value: 1000"),
])
def test_a_default_changed_is_refused_by_name(field: str, value: object, expected: str) -> None:
    doc = pod({field: value})
    (line,) = errors_of(doc)
    assert expected in line


def test_termination_message_fields_other_than_the_defaults_are_refused() -> None:
    doc = pod({}, container={"terminationMessagePath": "/tmp/x"})
    (line,) = errors_of(doc)
    assert 'spec.containers[0].terminationMessagePath: Unsupported value: "/tmp/x"' in line


def pod(spec: dict, container: dict | None = None, env: list | None = None) -> dict:
    c = {"name": "a", "image": "local/busybox:1", **(container or {})}
    if env is not None:
        c["env"] = env
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": {"containers": [c], **spec}}


def test_field_refs_are_checked_by_name() -> None:
    ok = [{"name": n, "valueFrom": {"fieldRef": {"fieldPath": path}}} for n, path in [
        ("A", "metadata.name"), ("B", "metadata.labels['app']"), ("C", "status.podIP"), ("D", "status.hostIP"),
        ("E", "spec.nodeName"), ("F", "spec.serviceAccountName"), ("G", "metadata.namespace")]]
    assert parse_objects([pod({}, env=ok)])
    (line,) = errors_of(pod({}, env=[{"name": "X", "valueFrom": {"fieldRef": {"fieldPath": "status.phase"}}}]))
    assert 'env[0].valueFrom.fieldRef.fieldPath: Unsupported value: "status.phase"' in line
    (line,) = errors_of(pod({}, env=[{"name": "X-IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}}]))
    assert "env[0].name" in line and "status.podIP" in line


def test_value_from_needs_exactly_one_source_and_never_blames_another() -> None:
    (line,) = errors_of(pod({}, env=[{"name": "X", "valueFrom": {}}]))
    assert "env[0].valueFrom: Required value: must specify one of: `configMapKeyRef`, `fieldRef` or `secretKeyRef`" in line
    both = {"secretKeyRef": {"name": "s", "key": "k"}, "fieldRef": {"fieldPath": "metadata.name"}}
    (line,) = errors_of(pod({}, env=[{"name": "X", "valueFrom": both}]))
    assert "may not have more than one field specified at a time" in line
    (line,) = errors_of(pod({}, env=[{"name": "X", "valueFrom": {"resourceFieldRef": {"resource": "limits.cpu"}}}]))
    assert "resourceFieldRef" in line and "secretKeyRef" not in line


def test_port_names_are_unique_per_container_not_across_the_pod() -> None:
    two = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": {"containers": [
        {"name": "a", "image": "local/busybox:1", "ports": [{"name": "metrics", "containerPort": 9100}]},
        {"name": "b", "image": "local/busybox:1", "ports": [{"name": "metrics", "containerPort": 9200}]}]}}
    assert parse_objects([two])
    same = pod({}, container={"ports": [{"name": "http", "containerPort": 80}, {"name": "http", "containerPort": 81}]})
    (line,) = errors_of(same)
    assert 'spec.containers[0].ports[1].name: Duplicate value: "http"' in line


def test_fields_that_mean_nothing_here_are_accepted_with_a_warning() -> None:
    doc = pod({"serviceAccountName": "builder", "imagePullSecrets": [{"name": "regcred"}],
               "automountServiceAccountToken": True})
    (obj,) = parse_objects([doc])
    warnings = manifest_warnings([obj])
    assert len(warnings) == 3
    assert any("serviceAccountName 'builder' is ignored" in w for w in warnings)
    assert any("imagePullSecrets (regcred) is ignored" in w and "orc image push" in w for w in warnings)


def test_security_context_becomes_docker_flags() -> None:
    from orchestrator.model.security import docker_flags

    doc = pod({"securityContext": {"runAsUser": 1000, "runAsGroup": 3000, "fsGroup": 2000,
                                   "supplementalGroups": [4000], "seccompProfile": {"type": "RuntimeDefault"}}},
              container={"securityContext": {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True,
                                             "capabilities": {"add": ["NET_BIND_SERVICE"], "drop": ["ALL"]},
                                             "runAsUser": 1001}})
    (obj,) = parse_objects([doc])
    assert docker_flags(obj.spec.security_context, obj.spec.containers[0].security_context) == [
        "--user=1001:3000", "--group-add=2000", "--group-add=4000", "--read-only",
        "--security-opt=no-new-privileges", "--cap-add=NET_BIND_SERVICE", "--cap-drop=ALL"]
    (priv,) = parse_objects([pod({}, container={"securityContext": {"privileged": True}})])
    assert docker_flags(None, priv.spec.containers[0].security_context) == ["--privileged"]


@pytest.mark.parametrize(("spec", "container", "expected"), [
    ({"securityContext": {"runAsGroup": 10}}, {}, "securityContext.runAsGroup: Required value: runAsUser"),
    ({}, {"securityContext": {"runAsUser": 0, "runAsNonRoot": True}}, "may not be true when runAsUser is 0"),
    ({}, {"securityContext": {"privileged": True, "allowPrivilegeEscalation": False}}, "cannot set"),
    ({}, {"securityContext": {"seLinuxOptions": {"level": "s0"}}}, "securityContext.seLinuxOptions: Forbidden"),
    ({}, {"securityContext": {"seccompProfile": {"type": "Localhost"}}}, 'Unsupported value: "Localhost"'),
    ({}, {"securityContext": {"capabilities": {"add": ["net admin"]}}}, "must be a capability name"),
    ({"securityContext": {"fsGroup": 5}, "volumes": [{"name": "d", "emptyDir": {}}]}, {},
     "securityContext.fsGroup needs the pod's emptyDir volumes in memory"),
])
def test_security_context_that_docker_cannot_honour_is_refused(spec: dict, container: dict, expected: str) -> None:
    (line,) = errors_of(pod(spec, container=container))
    assert expected in line
