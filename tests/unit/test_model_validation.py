"""Invalid manifests: every problem reported, each line exactly as kubectl formats it."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from orchestrator.errors import ValidationError
from orchestrator.model import parse_objects

SUBDOMAIN_MSG = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must "
    "start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is "
    "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
)


def unknown(name: str) -> str:
    return f'Forbidden: unknown field "{name}" (orc does not support it; fix its spelling or remove it)'


def pod(**spec: Any) -> dict[str, Any]:
    base = {"containers": [{"name": "app", "image": "local/busybox:1"}]}
    base.update(spec)
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": base}


def container(**fields: Any) -> dict[str, Any]:
    return pod(containers=[{"name": "app", "image": "local/busybox:1", **fields}])


def rc(**spec: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "replicas": 2,
        "selector": {"app": "web"},
        "template": {
            "metadata": {"labels": {"app": "web"}},
            "spec": {"containers": [{"name": "httpd", "image": "local/busybox:1"}]},
        },
    }
    base.update(spec)
    return {"apiVersion": "v1", "kind": "ReplicationController", "metadata": {"name": "web"}, "spec": base}


def deployment(kind: str = "Deployment", **spec: Any) -> dict[str, Any]:
    doc = rc(**spec)
    doc.update(apiVersion="apps/v1", kind=kind)
    doc["spec"].setdefault("selector", None)
    if doc["spec"]["selector"] == {"app": "web"}:
        doc["spec"]["selector"] = {"matchLabels": {"app": "web"}}
    return doc


def svc(**spec: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"selector": {"app": "web"}, "ports": [{"port": 80}]}
    base.update(spec)
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"}, "spec": base}


def with_meta(doc: dict[str, Any], **meta: Any) -> dict[str, Any]:
    doc = copy.deepcopy(doc)
    doc["metadata"] = {**doc["metadata"], **meta}
    return doc


P = 'Pod "p" is invalid: '
R = 'ReplicationController "web" is invalid: '
D = 'Deployment "web" is invalid: '
S = 'Service "web" is invalid: '
C = P + "spec.containers[0]."

CASES = [
    # metadata
    (
        with_meta(pod(), name="Web_1"),
        [P.replace('"p"', '"Web_1"') + f'metadata.name: Invalid value: "Web_1": {SUBDOMAIN_MSG}'],
    ),
    (
        with_meta(pod(), namespace="prod"),
        [P + 'metadata.namespace: Unsupported value: "prod": supported values: "default" (orc has one namespace: '
         "drop metadata.namespace or set it to default)"],
    ),
    (
        with_meta(pod(), labels={"app": 1}),
        [P + "metadata.labels: Invalid value: 1: label values must be strings (quote them)"],
    ),
    (
        with_meta(pod(), labels={"app": "a" * 64}),
        [P + f'metadata.labels: Invalid value: "{"a" * 64}": must be no more than 63 characters'],
    ),
    (
        with_meta(pod(), annotations={"x": 5}),
        [
            P
            + "metadata.annotations: Invalid value: 5: the value of annotation 'x' must be a string (quote it)"
        ],
    ),
    (
        with_meta(pod(), clusterName="c"),
        [P + "metadata.clusterName: " + unknown("clusterName")],
    ),
    # containers
    (pod(containers=[]), [P + "spec.containers: Required value"]),
    (container(image=""), [C + "image: Required value"]),
    (container(image=" x"), [C + 'image: Invalid value: " x": must not contain whitespace']),
    (
        pod(containers=[{"name": "App", "image": "x"}]),
        [
            P
            + 'spec.containers[0].name: Invalid value: "App": a lowercase RFC 1123 label must consist of lower '
            "case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. "
            "'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')"
        ],
    ),
    (
        pod(containers=[{"name": "a", "image": "x"}, {"name": "a", "image": "y"}]),
        [P + 'spec.containers[1].name: Duplicate value: "a"'],
    ),
    (pod(containers=[{"image": "x"}]), [C + "name: Required value"]),
    (container(imagee="x"), [C + "imagee: " + unknown("imagee")]),
    (container(command="httpd -f"), [C + 'command: Invalid value: "httpd -f": must be a list']),
    (container(args=[1]), [C + "args[0]: Invalid value: 1: must be a string (quote it)"]),
    (container(workingDir=3), [C + "workingDir: Invalid value: 3: must be a string (quote it)"]),
    (
        container(imagePullPolicy="Sometimes"),
        [
            C
            + 'imagePullPolicy: Unsupported value: "Sometimes": supported values: "Always", "IfNotPresent", "Never"'
        ],
    ),
    # ports
    (
        container(ports=[{"containerPort": 0}]),
        [C + "ports[0].containerPort: Invalid value: 0: must be between 1 and 65535, inclusive"],
    ),
    (
        container(ports=[{"containerPort": 65536}]),
        [C + "ports[0].containerPort: Invalid value: 65536: must be between 1 and 65535, inclusive"],
    ),
    (
        container(ports=[{"containerPort": "80"}]),
        [C + 'ports[0].containerPort: Invalid value: "80": must be an integer'],
    ),
    (container(ports=[{"hostPort": 80}]), [C + "ports[0].containerPort: Required value"]),
    (
        container(ports=[{"containerPort": 80, "hostPort": -1}]),
        [C + "ports[0].hostPort: Invalid value: -1: must be between 1 and 65535, inclusive"],
    ),
    (
        container(ports=[{"containerPort": 80, "protocol": "SCTP"}]),
        [C + 'ports[0].protocol: Unsupported value: "SCTP": supported values: "TCP", "UDP"'],
    ),
    (
        container(ports=[{"containerPort": 80, "name": "HTTP"}]),
        [
            C
            + 'ports[0].name: Invalid value: "HTTP": must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)',
            C + 'ports[0].name: Invalid value: "HTTP": must contain at least one letter (a-z)',
        ],
    ),
    (
        container(ports=[{"containerPort": 80, "name": "a-very-long-port-name"}]),
        [C + 'ports[0].name: Invalid value: "a-very-long-port-name": must be no more than 15 characters'],
    ),
    (
        container(ports=[{"containerPort": 80, "name": "8080"}]),
        [C + 'ports[0].name: Invalid value: "8080": must contain at least one letter (a-z)'],
    ),
    (
        pod(
            containers=[
                {"name": "a", "image": "x", "ports": [{"containerPort": 80, "hostPort": 8080}]},
                {"name": "b", "image": "x", "ports": [{"containerPort": 81, "hostPort": 8080}]},
            ]
        ),
        [P + 'spec.containers[1].ports[0].hostPort: Duplicate value: "8080/TCP"'],
    ),
    # env
    (
        container(env=[{"name": "1X", "value": "v"}]),
        [
            C
            + 'env[0].name: Invalid value: "1X": a valid environment variable name must consist of alphabetic '
            "characters, digits, '_', '-', or '.', and must not start with a digit (e.g. 'my.env-name',  or "
            "'MY_ENV.NAME',  or 'MyEnvName1', regex used for validation is '[-._a-zA-Z][-._a-zA-Z0-9]*')"
        ],
    ),
    (
        container(env=[{"name": "PORT", "value": 8080}]),
        [C + "env[0].value: Invalid value: 8080: must be a string (quote it)"],
    ),
    (
        container(
            env=[{"name": "A", "value": "x", "valueFrom": {"secretKeyRef": {"name": "s", "key": "k"}}}]
        ),
        [C + 'env[0].valueFrom: Invalid value: "": may not be specified when `value` is not empty'],
    ),
    (
        container(env=[{"name": "A", "valueFrom": {"secretKeyRef": {"name": "s"}}}]),
        [C + "env[0].valueFrom.secretKeyRef.key: Required value"],
    ),
    (
        container(env=[{"name": "A", "valueFrom": {"resourceFieldRef": {"resource": "limits.cpu"}}}]),
        [C + "env[0].valueFrom.resourceFieldRef: " + unknown("resourceFieldRef")],  # nothing about secretKeyRef
    ),
    # resources
    (
        container(resources={"requests": {"cpu": "2"}, "limits": {"cpu": "1"}}),
        [C + 'resources.requests: Invalid value: "2": must be less than or equal to cpu limit of 1'],
    ),
    (
        container(resources={"requests": {"memory": "1Gi"}, "limits": {"memory": "512Mi"}}),
        [C + 'resources.requests: Invalid value: "1Gi": must be less than or equal to memory limit of 512Mi'],
    ),
    (
        container(resources={"requests": {"memory": "128MB"}}),
        [
            C
            + 'resources.requests[memory]: Invalid value: "128MB": quantities must match the regular expression '
            "'^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$' (e.g. 500m, 0.5, 128Mi, 1.5Gi)"
        ],
    ),
    (
        container(resources={"limits": {"cpu": "-1"}}),
        [C + 'resources.limits[cpu]: Invalid value: "-1": must be greater than or equal to 0'],
    ),
    (
        container(resources={"limits": {"gpu": 1}}),
        [
            C
            + 'resources.limits[gpu]: Unsupported value: "gpu": supported values: "cpu", "memory", "ephemeral-storage", "nvidia.com/gpu"'
        ],
    ),
    (
        container(resources={"limits": {"nvidia.com/gpu": "0.5"}}),
        [C + 'resources.limits[nvidia.com/gpu]: Invalid value: "0.5": must be an integer'],
    ),
    (
        container(resources={"requests": {"nvidia.com/gpu": 1}, "limits": {"nvidia.com/gpu": 2}}),
        [
            C
            + "resources.requests[nvidia.com/gpu]: Invalid value: 1: must be equal to nvidia.com/gpu limit of 2"
        ],
    ),
    (
        container(resources={"claims": []}),
        [C + "resources.claims: " + unknown("claims")],
    ),
    # probes
    (
        container(livenessProbe={"periodSeconds": 3}),
        [C + "livenessProbe: Required value: must specify a handler type (httpGet, tcpSocket or exec)"],
    ),
    (
        container(readinessProbe={"exec": {"command": ["true"]}, "tcpSocket": {"port": 80}}),
        [C + "readinessProbe: Forbidden: may not specify more than 1 handler type"],
    ),
    (
        container(readinessProbe={"httpGet": {"port": "http"}}),
        [C + 'readinessProbe.httpGet.port: Not found: "http"'],
    ),
    (
        container(readinessProbe={"httpGet": {"path": "/"}}),
        [C + "readinessProbe.httpGet.port: Required value"],
    ),
    (
        container(readinessProbe={"tcpSocket": {"port": 0}}),
        [C + "readinessProbe.tcpSocket.port: Invalid value: 0: must be between 1 and 65535, inclusive"],
    ),
    (
        container(readinessProbe={"tcpSocket": {"port": [80]}}),
        [C + "readinessProbe.tcpSocket.port: Invalid value: [80]: must be an integer or a string"],
    ),
    (
        container(livenessProbe={"exec": {"command": ["true"]}, "timeoutSeconds": -1}),
        [C + "livenessProbe.timeoutSeconds: Invalid value: -1: must be greater than or equal to 0"],
    ),
    (
        container(livenessProbe={"exec": {"command": ["true"]}, "successThreshold": 2}),
        [C + "livenessProbe.successThreshold: Invalid value: 2: must be 1"],
    ),
    (
        pod(
            affinity={
                "podAntiAffinity": {
                    "preferredDuringSchedulingIgnoredDuringExecution": [
                        {"weight": 101, "podAffinityTerm": {"topologyKey": "rack"}}
                    ]
                }
            }
        ),
        [
            P
            + "spec.affinity.podAntiAffinity.preferredDuringSchedulingIgnoredDuringExecution[0].weight: Invalid "
            "value: 101: must be in the range 1-100"
        ],
    ),
    (container(livenessProbe={"exec": {"command": []}}), [C + "livenessProbe.exec.command: Required value"]),
    (
        container(readinessProbe={"httpGet": {"port": 80, "scheme": "FTP"}}),
        [C + 'readinessProbe.httpGet.scheme: Unsupported value: "FTP": supported values: "HTTP", "HTTPS"'],
    ),
    # volumes
    (
        container(volumeMounts=[{"name": "data", "mountPath": "/data"}]),
        [C + 'volumeMounts[0].name: Not found: "data"'],
    ),
    (
        pod(volumes=[{"name": "data"}]),
        [P + "spec.volumes[0]: Required value: must specify a volume type (emptyDir, hostPath, configMap or secret)"],
    ),
    (
        pod(volumes=[{"name": "data", "emptyDir": {}, "hostPath": {"path": "/x"}}]),
        [P + "spec.volumes[0]: Forbidden: may not specify more than 1 volume type"],
    ),
    (
        pod(volumes=[{"name": "data", "hostPath": {"path": "x"}}]),
        [P + 'spec.volumes[0].hostPath.path: Invalid value: "x": must be an absolute path'],
    ),
    (
        pod(volumes=[{"name": "data", "nfs": {"server": "x"}}]),
        [P + "spec.volumes[0].nfs: " + unknown("nfs")],
    ),
    (
        pod(volumes=[{"name": "d", "emptyDir": {}}, {"name": "d", "emptyDir": {"medium": "Memory"}}]),
        [P + 'spec.volumes[1].name: Duplicate value: "d"'],
    ),
    (
        pod(volumes=[{"name": "d", "emptyDir": {"sizeLimit": "lots"}}]),
        [
            P
            + 'spec.volumes[0].emptyDir.sizeLimit: Invalid value: "lots": quantities must match the regular expression '
            "'^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$' (e.g. 500m, 0.5, 128Mi, 1.5Gi)"
        ],
    ),
    # pod spec
    (
        pod(restartPolicy="Sometimes"),
        [
            P
            + 'spec.restartPolicy: Unsupported value: "Sometimes": supported values: "Always", "OnFailure", "Never"'
        ],
    ),
    (
        pod(terminationGracePeriodSeconds=-5),
        [P + "spec.terminationGracePeriodSeconds: Invalid value: -5: must be greater than or equal to 0"],
    ),
    (
        pod(nodeSelector={"disk": True}),
        [P + "spec.nodeSelector: Invalid value: true: label values must be strings (quote them)"],
    ),
    (pod(hostNetwork=True), [P + "spec.hostNetwork: " + unknown("hostNetwork")]),
    # affinity, spread, tolerations
    (
        pod(
            affinity={
                "nodeAffinity": {
                    "requiredDuringSchedulingIgnoredDuringExecution": {
                        "nodeSelectorTerms": [
                            {"matchExpressions": [{"key": "cores", "operator": "Gt", "values": ["many"]}]}
                        ]
                    }
                }
            }
        ),
        [
            P
            + "spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0]"
            '.matchExpressions[0].values[0]: Invalid value: "many": must be an integer'
        ],
    ),
    (
        pod(
            affinity={
                "nodeAffinity": {
                    "requiredDuringSchedulingIgnoredDuringExecution": {
                        "nodeSelectorTerms": [{"matchExpressions": [{"key": "zone", "operator": "In"}]}]
                    }
                }
            }
        ),
        [
            P
            + "spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0]"
            ".matchExpressions[0].values: Required value: must be specified when `operator` is 'In' or 'NotIn'"
        ],
    ),
    (
        pod(
            affinity={
                "nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": []}}
            }
        ),
        [
            P
            + "spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms: "
            "Required value: must have at least one node selector term"
        ],
    ),
    (
        pod(
            affinity={
                "nodeAffinity": {
                    "preferredDuringSchedulingIgnoredDuringExecution": [
                        {
                            "weight": 0,
                            "preference": {"matchExpressions": [{"key": "ssd", "operator": "Exists"}]},
                        }
                    ]
                }
            }
        ),
        [
            P
            + "spec.affinity.nodeAffinity.preferredDuringSchedulingIgnoredDuringExecution[0].weight: Invalid value: 0: "
            "must be in the range 1-100"
        ],
    ),
    (
        pod(
            affinity={
                "nodeAffinity": {
                    "preferredDuringSchedulingIgnoredDuringExecution": [
                        {
                            "weight": 1,
                            "preference": {"matchExpressions": [{"key": "ssd", "operator": "Near"}]},
                        }
                    ]
                }
            }
        ),
        [
            P + "spec.affinity.nodeAffinity.preferredDuringSchedulingIgnoredDuringExecution[0].preference"
            '.matchExpressions[0].operator: Unsupported value: "Near": supported values: "In", "NotIn", "Exists", '
            '"DoesNotExist", "Gt", "Lt"'
        ],
    ),
    (
        pod(
            affinity={
                "podAntiAffinity": {
                    "requiredDuringSchedulingIgnoredDuringExecution": [
                        {"labelSelector": {"matchLabels": {"app": "web"}}}
                    ]
                }
            }
        ),
        [
            P
            + "spec.affinity.podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution[0].topologyKey: "
            "Required value: can not be empty"
        ],
    ),
    (
        pod(
            affinity={
                "podAntiAffinity": {
                    "preferredDuringSchedulingIgnoredDuringExecution": [
                        {
                            "weight": 101,
                            "podAffinityTerm": {
                                "topologyKey": "rack",
                                "labelSelector": {
                                    "matchExpressions": [{"key": "app", "operator": "In", "values": []}]
                                },
                            },
                        }
                    ]
                }
            }
        ),
        [
            P
            + "spec.affinity.podAntiAffinity.preferredDuringSchedulingIgnoredDuringExecution[0].podAffinityTerm"
            ".labelSelector.matchExpressions[0].values: Required value: must be specified when `operator` is 'In' or 'NotIn'",
            # reported in the same round as the term's own problem (issue 13: every error at once)
            P + "spec.affinity.podAntiAffinity.preferredDuringSchedulingIgnoredDuringExecution[0].weight: "
            "Invalid value: 101: must be in the range 1-100",
        ],
    ),
    (
        pod(topologySpreadConstraints=[{"maxSkew": 0, "topologyKey": "rack", "whenUnsatisfiable": "Maybe"}]),
        [
            P
            + 'spec.topologySpreadConstraints[0].whenUnsatisfiable: Unsupported value: "Maybe": supported values: '
            '"DoNotSchedule", "ScheduleAnyway"',
            P + "spec.topologySpreadConstraints[0].maxSkew: Invalid value: 0: must be greater than zero",
        ],
    ),
    (
        pod(
            topologySpreadConstraints=[
                {"maxSkew": 0, "topologyKey": "rack", "whenUnsatisfiable": "DoNotSchedule"}
            ]
        ),
        [P + "spec.topologySpreadConstraints[0].maxSkew: Invalid value: 0: must be greater than zero"],
    ),
    (
        pod(tolerations=[{"operator": "Equal", "value": "x"}]),
        [
            P
            + 'spec.tolerations[0].operator: Invalid value: "Equal": operator must be Exists when `key` is empty, '
            'which means "match all values and all keys"'
        ],
    ),
    (
        pod(
            tolerations=[
                {
                    "key": "gpu",
                    "operator": "Exists",
                    "value": "x",
                    "effect": "NoSchedule",
                    "tolerationSeconds": 5,
                }
            ]
        ),
        [
            P
            + "spec.tolerations[0].value: Invalid value: \"x\": value must be empty when `operator` is 'Exists'",
            P + "spec.tolerations[0].effect: Invalid value: \"NoSchedule\": effect must be 'NoExecute' when "
            "`tolerationSeconds` is set",
        ],
    ),
    # replication controllers and apps/v1
    (rc(replicas=-1), [R + "spec.replicas: Invalid value: -1: must be greater than or equal to 0"]),
    (rc(replicas="3"), [R + 'spec.replicas: Invalid value: "3": must be an integer']),
    (
        rc(selector={"app": "other"}),
        [
            R
            + 'spec.template.metadata.labels: Invalid value: map[string]string{"app":"web"}: `selector` does not match template `labels`'
        ],
    ),
    (rc(template=None), [R + "spec.template: Invalid value: null: must be an object (a map of fields)"]),
    (
        rc(strategy={"type": "Recreate"}),
        [R + "spec.strategy: " + unknown("strategy")],
    ),
    (
        rc(
            template={
                "metadata": {"labels": {"app": "web"}},
                "spec": {"restartPolicy": "Never", "containers": [{"name": "a", "image": "b"}]},
            }
        ),
        [R + 'spec.template.spec.restartPolicy: Unsupported value: "Never": supported values: "Always"'],
    ),
    (
        # Mistakes in several parts of one object are all reported.
        rc(
            replicas=-1,
            selector={"app": "x"},
            template={
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "a", "image": "b", "ports": [{"containerPort": 0}]}]},
            },
        ),
        [
            R + "spec.replicas: Invalid value: -1: must be greater than or equal to 0",
            R
            + "spec.template.spec.containers[0].ports[0].containerPort: Invalid value: 0: must be between 1 and 65535, inclusive",
            R
            + 'spec.template.metadata.labels: Invalid value: map[string]string{"app":"web"}: `selector` does not match template `labels`',
        ],
    ),
    (
        rc(selector=None, template={"spec": {"containers": [{"name": "a", "image": "b"}]}}),
        [R + "spec.selector: Required value"],
    ),
    (deployment(selector=None), [D + "spec.selector: Invalid value: null: must be a map"]),
    (
        deployment(selector={"matchLabels": {"app": "api"}}),
        [
            D
            + 'spec.template.metadata.labels: Invalid value: map[string]string{"app":"web"}: `selector` does not match template `labels`'
        ],
    ),
    (
        deployment(selector={}),
        [D + "spec.selector: Invalid value: map[string]string{}: empty selector is invalid for deployment"],
    ),
    (
        deployment(selector={"matchExpressions": [{"key": "app", "operator": "Exists", "values": ["web"]}]}),
        [
            D
            + "spec.selector.matchExpressions[0].values: Forbidden: may not be specified when `operator` is 'Exists' or 'DoesNotExist'"
        ],
    ),
    (
        deployment(
            strategy={"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 0, "maxUnavailable": "0%"}}
        ),
        [
            D
            + 'spec.strategy.rollingUpdate.maxUnavailable: Invalid value: "0%": may not be 0 when `maxSurge` is 0'
        ],
    ),
    (
        deployment(strategy={"rollingUpdate": {"maxSurge": "lots"}}),
        [
            D
            + "spec.strategy.rollingUpdate.maxSurge: Invalid value: \"lots\": must be an integer or percentage (e.g. '5%')"
        ],
    ),
    (
        deployment(kind="ReplicaSet", strategy={"type": "Recreate"}),
        ['ReplicaSet "web" is invalid: spec.strategy: ' + unknown("strategy")],
    ),
    # services
    (
        with_meta(svc(), name="1web"),
        [
            S.replace('"web"', '"1web"')
            + 'metadata.name: Invalid value: "1web": a DNS-1035 label must consist of lower '
            "case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric "
            "character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')"
        ],
    ),
    (svc(ports=[]), [S + "spec.ports: Required value"]),
    (svc(ports=[{"name": "http"}]), [S + "spec.ports[0].port: Required value"]),
    (
        svc(type="ExternalName"),
        [S + 'spec.type: Unsupported value: "ExternalName": supported values: "ClusterIP", "NodePort", "LoadBalancer"'],
    ),
    (
        svc(ports=[{"port": 53, "protocol": "UDP"}]),
        [S + 'spec.ports[0].protocol: Unsupported value: "UDP": supported values: "TCP"'],
    ),
    (
        svc(ports=[{"port": 80, "nodePort": 30080}]),
        [S + "spec.ports[0].nodePort: Forbidden: may not be used when `type` is 'ClusterIP'"],
    ),
    (
        svc(
            type="NodePort",
            ports=[
                {"name": "a", "port": 80, "nodePort": 30080},
                {"name": "b", "port": 81, "nodePort": 30080},
            ],
        ),
        [S + "spec.ports[1].nodePort: Duplicate value: 30080"],
    ),
    (
        svc(ports=[{"name": "a", "port": 80}, {"name": "a", "port": 80}, {"port": 81}]),
        [
            S + 'spec.ports[1].name: Duplicate value: "a"',
            S + "spec.ports[1].port: Duplicate value: 80",
            S + "spec.ports[2].name: Required value",
        ],
    ),
    (
        svc(ports=[{"port": 80, "targetPort": 0}]),
        [S + "spec.ports[0].targetPort: Invalid value: 0: must be between 1 and 65535, inclusive"],
    ),
    (
        svc(ports=[{"port": 80, "targetPort": "Web"}]),
        [
            S
            + 'spec.ports[0].targetPort: Invalid value: "Web": must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)'
        ],
    ),
    (
        svc(clusterIP="10.0.0.300"),
        [S + 'spec.clusterIP: Invalid value: "10.0.0.300": must be a valid IPv4 address (e.g. 10.233.0.10)'],
    ),
    (
        svc(selector={"app": "-x"}),
        [
            S
            + 'spec.selector: Invalid value: "-x": a valid label must be an empty string or consist of alphanumeric '
            "characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or "
            "'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"
        ],
    ),
    (
        with_meta(svc(), annotations={"orc.io/haproxy-template": "../etc/passwd"}),
        [
            S
            + 'metadata.annotations: Invalid value: "../etc/passwd": orc.io/haproxy-template must name a file in the '
            'templates folder (e.g. "ambassador.cfg.j2"), without a path, at most 255 characters'
        ],
    ),
    (
        svc(sessionAffinity="ClientIP"),
        [S + 'spec.sessionAffinity: Unsupported value: "ClientIP": supported values: "None"'],
    ),
    # kinds and versions
    (
        {"apiVersion": "v1", "kind": "Widget", "metadata": {"name": "c"}},
        [
            'Widget "c" is invalid: kind: Unsupported value: "Widget": supported values: "ConfigMap", "Deployment", '
            '"Namespace", "Pod", "PodDisruptionBudget", "ReplicaSet", "ReplicationController", "Secret", "Service"'
        ],
    ),
    (
        {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "pi"}},
        ['Job "pi": kind Job is not supported by orc (orc keeps long-running pods alive; run one-off work as a bare '
         "Pod with restartPolicy: OnFailure); it runs ConfigMap, Deployment, Namespace, Pod, PodDisruptionBudget, "
         "ReplicaSet, ReplicationController, Secret, Service"],
    ),
    (
        {**pod(), "apiVersion": "apps/v1"},
        [P + 'apiVersion: Unsupported value: "apps/v1": supported values: "v1"'],
    ),
    (
        {**deployment(), "apiVersion": "extensions/v1beta1"},
        [D + 'apiVersion: Unsupported value: "extensions/v1beta1": supported values: "apps/v1"'],
    ),
    ({k: v for k, v in pod().items() if k != "apiVersion"}, [P + "apiVersion: Required value: use 'v1'"]),
    (
        {k: v for k, v in pod().items() if k != "kind"},
        [
            'Object "p" is invalid: kind: Required value: must be one of ConfigMap, Deployment, Namespace, Pod, PodDisruptionBudget, ReplicaSet, ReplicationController, Secret, Service'
        ],
    ),
    ({k: v for k, v in pod().items() if k != "spec"}, [P + "spec: Required value"]),
    ({**pod(), "extra": 1}, [P + "extra: " + unknown("extra")]),
]


@pytest.mark.parametrize(("doc", "expected"), CASES)
def test_invalid_manifest(doc, expected):
    with pytest.raises(ValidationError) as e:
        parse_objects([doc])
    assert e.value.errors == expected
    assert str(e.value) == "\n".join(expected)


def test_nameless_document_is_named_by_position():
    doc = pod()
    del doc["metadata"]
    with pytest.raises(ValidationError) as e:
        parse_objects([svc(), doc])
    assert e.value.errors == [
        'Pod "document 2" is invalid: metadata.name: Required value: name or generateName is required'
    ]


def test_not_a_map():
    with pytest.raises(ValidationError) as e:
        parse_objects(["just text"])  # type: ignore[list-item]
    assert e.value.errors == [
        'Object "document 1" is invalid: <root>: Invalid value: "just text": a manifest must be a map with '
        "apiVersion, kind, metadata and spec"
    ]


def test_every_document_reports_all_its_problems_together():
    docs = [
        rc(replicas=-1),
        pod(restartPolicy="Sometimes"),
        with_meta(pod(containers=[{"name": "a", "image": "b", "ports": [{"containerPort": 0}]}]), name="q"),
        svc(ports=[]),
    ]
    with pytest.raises(ValidationError) as e:
        parse_objects(docs)
    assert e.value.errors == [
        R + "spec.replicas: Invalid value: -1: must be greater than or equal to 0",
        P
        + 'spec.restartPolicy: Unsupported value: "Sometimes": supported values: "Always", "OnFailure", "Never"',
        'Pod "q" is invalid: spec.containers[0].ports[0].containerPort: Invalid value: 0: must be between 1 and 65535, inclusive',
        S + "spec.ports: Required value",
    ]


def test_same_object_twice_is_an_error():
    with pytest.raises(ValidationError) as e:
        parse_objects([rc(), deployment(), pod(), svc(), deployment()])
    assert e.value.errors == [
        D + 'metadata.name: Duplicate value: "web": Deployment "web" is defined twice (both are deploy/web)'
    ]


def test_same_name_in_another_kind_is_another_object():
    objs = parse_objects([rc(), deployment(), deployment(kind="ReplicaSet"), pod(), svc()])
    assert [o.key for o in objs] == ["rc/web", "deploy/web", "rs/web", "pod/p", "svc/web"]


def test_a_multiline_env_value_needs_a_shell_safe_name() -> None:
    from orchestrator.errors import ValidationError
    from orchestrator.model.load import parse_objects

    doc = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
           "spec": {"containers": [{"name": "c", "image": "i", "env": [
               {"name": "my.cert", "value": "a\nb"}, {"name": "CERT", "value": "a\nb"}]}]}}
    with pytest.raises(ValidationError) as e:
        parse_objects([doc])
    assert e.value.errors == [
        'Pod "p" is invalid: spec.containers[0].env[0].name: Invalid value: "my.cert": a variable whose value '
        "has a line break (or a carriage return, or is over 64 KiB) must be named with letters, digits and '_' "
        "only (orc passes it through a shell)"]
