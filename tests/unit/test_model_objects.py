"""Valid manifests: typed objects, stable keys, canonical manifests and the helpers the scheduler uses."""

from __future__ import annotations

import io
from decimal import Decimal
from pathlib import Path

import pytest
import yaml

from orchestrator.errors import ValidationError
from orchestrator.labels import Selector
from orchestrator.model import (
    Deployment,
    Document,
    Pod,
    ReplicaSet,
    ReplicationController,
    Service,
    Workload,
    host_ports,
    load_documents,
    load_objects,
    parse_objects,
    pod_requests,
    spec_hash,
)

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures" / "manifests"

FULL_POD = """
apiVersion: v1
kind: Pod
metadata:
  name: db-0
  namespace: default
  labels: {app: db, role: primary}
  annotations: {owner: team-a}
  uid: 0b7c2f6e-aaaa-bbbb-cccc-000000000000
  resourceVersion: "123"
  generation: 4
  creationTimestamp: "2024-01-01T00:00:00Z"
spec:
  nodeSelector: {disk: ssd}
  restartPolicy: OnFailure
  terminationGracePeriodSeconds: 10
  volumes:
    - {name: data, hostPath: {path: /srv/db, type: DirectoryOrCreate}}
    - {name: tmp, emptyDir: {medium: Memory, sizeLimit: 64Mi}}
  affinity:
    nodeAffinity:
      requiredDuringSchedulingIgnoredDuringExecution:
        nodeSelectorTerms:
          - matchExpressions:
              - {key: cores, operator: Gt, values: ["3"]}
              - {key: zone, operator: In, values: [a, b]}
          - matchExpressions:
              - {key: gpu, operator: Exists}
      preferredDuringSchedulingIgnoredDuringExecution:
        - weight: 10
          preference:
            matchExpressions: [{key: rack, operator: NotIn, values: [r9]}]
    podAntiAffinity:
      requiredDuringSchedulingIgnoredDuringExecution:
        - labelSelector: {matchLabels: {app: db}}
          topologyKey: kubernetes.io/hostname
      preferredDuringSchedulingIgnoredDuringExecution:
        - weight: 50
          podAffinityTerm:
            labelSelector:
              matchExpressions: [{key: app, operator: In, values: [db]}]
            topologyKey: rack
  topologySpreadConstraints:
    - {maxSkew: 1, topologyKey: zone, whenUnsatisfiable: DoNotSchedule, labelSelector: {matchLabels: {app: db}}}
  tolerations:
    - {key: dedicated, operator: Equal, value: db, effect: NoSchedule}
    - {key: flaky, operator: Exists, effect: NoExecute, tolerationSeconds: 30}
  containers:
    - name: db
      image: local/db:15
      imagePullPolicy: IfNotPresent
      command: [postgres]
      args: [-c, max_connections=50]
      workingDir: /var/lib/db
      env:
        - {name: PGDATA, value: /data}
        - name: PASSWORD
          valueFrom: {secretKeyRef: {name: db, key: password}}
      ports:
        - {name: pg, containerPort: 5432, hostPort: 5432, protocol: TCP}
        - {containerPort: 9187, hostPort: 9187}
        - {containerPort: 53, hostPort: 5353, protocol: UDP}
      resources:
        requests: {cpu: 500m, memory: 1Gi, ephemeral-storage: 2G}
        limits: {cpu: 2, memory: 2Gi, nvidia.com/gpu: 1}
      livenessProbe:
        exec: {command: [pg_isready]}
        initialDelaySeconds: 5
        periodSeconds: 10
        timeoutSeconds: 2
        failureThreshold: 3
      readinessProbe:
        tcpSocket: {port: pg}
      volumeMounts:
        - {name: data, mountPath: /data}
        - {name: tmp, mountPath: /tmp, readOnly: false}
    - name: exporter
      image: local/exporter:1
      resources:
        requests: {cpu: 0.25, memory: 64Mi}
      readinessProbe:
        httpGet: {path: /metrics, port: 9187, scheme: HTTP, httpHeaders: [{name: X, value: y}]}
"""


def one(text: str):
    (obj,) = load_objects(["-"], stdin=io.StringIO(text))
    return obj


def test_full_pod_is_read():
    pod = one(FULL_POD)
    assert isinstance(pod, Pod)
    assert pod.key == "pod/db-0"
    assert pod.labels == {"app": "db", "role": "primary"}
    c = pod.spec.containers[0]
    assert c.env[1].value_from.secret_key_ref.key == "password"
    assert c.readiness_probe.tcp_socket.port == "pg"
    assert pod.spec.volumes[0].host_path.path == "/srv/db"


def test_server_set_metadata_is_accepted_but_not_kept():
    manifest = one(FULL_POD).to_manifest()
    assert manifest["metadata"] == {
        "name": "db-0",
        "namespace": "default",
        "labels": {"app": "db", "role": "primary"},
        "annotations": {"owner": "team-a"},
    }


def test_to_manifest_round_trips_and_uses_kubernetes_names():
    pod = one(FULL_POD)
    manifest = pod.to_manifest()
    assert "nodeSelectorTerms" in str(manifest) and "node_selector_terms" not in str(manifest)
    assert manifest["spec"]["containers"][0]["resources"]["limits"]["cpu"] == 2
    (again,) = parse_objects([manifest])
    assert again.spec == pod.spec and again.metadata.uid is None
    assert parse_objects([again.to_manifest()]) == [again]
    assert again.to_manifest() == manifest
    assert yaml.safe_load(yaml.safe_dump(manifest)) == manifest


def test_pod_requests_sum_containers_and_default_to_limits():
    req = pod_requests(one(FULL_POD).spec)
    assert req == {
        "cpu": Decimal("0.75"),
        "memory": Decimal(2**30 + 64 * 2**20),
        "ephemeral-storage": Decimal(2 * 10**9),
        "nvidia.com/gpu": Decimal(1),  # a limit without a request requests the limit
    }


def test_pod_requests_empty():
    pod = one("apiVersion: v1\nkind: Pod\nmetadata: {name: a}\nspec: {containers: [{name: a, image: b}]}\n")
    assert pod_requests(pod.spec) == {k: 0 for k in ("cpu", "memory", "ephemeral-storage", "nvidia.com/gpu")}
    assert host_ports(pod.spec) == []


def test_host_ports():
    assert host_ports(one(FULL_POD).spec) == [(5353, "UDP"), (5432, "TCP"), (9187, "TCP")]


def test_node_affinity_matching():
    required = one(FULL_POD).spec.affinity.node_affinity.required_during_scheduling_ignored_during_execution
    assert required.matches({"cores": "4", "zone": "a"})
    assert not required.matches({"cores": "3", "zone": "a"})  # Gt is strict
    assert not required.matches({"cores": "many", "zone": "a"})
    assert required.matches({"gpu": "nvidia"})  # the second term (terms are ORed)
    assert not required.matches({})
    preferred = one(
        FULL_POD
    ).spec.affinity.node_affinity.preferred_during_scheduling_ignored_during_execution[0]
    assert preferred.weight == 10 and preferred.preference.matches({"rack": "r1"})
    assert preferred.preference.matches({})  # NotIn holds when the key is absent
    assert not preferred.preference.matches({"rack": "r9"})


def test_pod_affinity_terms_and_spread_expose_selectors():
    spec = one(FULL_POD).spec
    anti = spec.affinity.pod_anti_affinity
    assert anti.required_during_scheduling_ignored_during_execution[0].selector == Selector.parse("app=db")
    assert anti.preferred_during_scheduling_ignored_during_execution[
        0
    ].pod_affinity_term.selector == Selector.parse("app in (db)")
    assert spec.topology_spread_constraints[0].selector.matches({"app": "db"})


def test_missing_label_selector_selects_nothing():
    pod = one(
        "apiVersion: v1\nkind: Pod\nmetadata: {name: a}\nspec:\n  containers: [{name: a, image: b}]\n"
        "  affinity: {podAntiAffinity: {requiredDuringSchedulingIgnoredDuringExecution: [{topologyKey: rack}]}}\n"
    )
    term = pod.spec.affinity.pod_anti_affinity.required_during_scheduling_ignored_during_execution[0]
    assert not term.selector.matches({}) and not term.selector.matches({"app": "x"})


@pytest.mark.parametrize(
    ("index", "taint", "expected"),
    [
        (0, ("dedicated", "db", "NoSchedule"), True),
        (0, ("dedicated", "web", "NoSchedule"), False),
        (0, ("dedicated", "db", "NoExecute"), False),
        (1, ("flaky", "anything", "NoExecute"), True),
        (1, ("other", "", "NoExecute"), False),
    ],
)
def test_tolerations(index, taint, expected):
    assert one(FULL_POD).spec.tolerations[index].tolerates(*taint) is expected


RC = """
apiVersion: v1
kind: ReplicationController
metadata: {name: web}
spec:
  template:
    metadata: {labels: {app: web, tier: fe}}
    spec:
      containers: [{name: httpd, image: "local/busybox:1", resources: {requests: {cpu: 500m}}}]
"""


def test_rc_defaults_replicas_and_selector_from_template():
    rc = one(RC)
    assert isinstance(rc, ReplicationController) and isinstance(rc, Workload)
    assert rc.key == "rc/web" and rc.kind == "ReplicationController"
    assert rc.replicas == 1
    assert rc.selector == Selector.parse("app=web,tier=fe")


def test_replicaset_and_deployment_are_workloads_each_with_its_own_key():
    deploy = one(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: api}\nspec:\n  replicas: 0\n"
        "  selector: {matchExpressions: [{key: app, operator: In, values: [api, api2]}]}\n"
        "  strategy: {type: RollingUpdate, rollingUpdate: {maxSurge: 25%, maxUnavailable: 1}}\n"
        "  revisionHistoryLimit: 3\n"
        "  template:\n    metadata: {labels: {app: api}}\n    spec: {containers: [{name: a, image: b}]}\n"
    )
    assert isinstance(deploy, Deployment) and isinstance(deploy, Workload)
    assert deploy.key == "deploy/api" and deploy.kind == "Deployment" and deploy.replicas == 0
    assert deploy.selector == Selector.parse("app in (api,api2)")
    assert deploy.to_manifest()["spec"]["strategy"]["rollingUpdate"] == {
        "maxSurge": "25%",
        "maxUnavailable": 1,
    }
    rs = one(
        "apiVersion: apps/v1\nkind: ReplicaSet\nmetadata: {name: api}\nspec:\n  selector: {matchLabels: {app: api}}\n"
        "  template:\n    metadata: {labels: {app: api}}\n    spec: {containers: [{name: a, image: b}]}\n"
    )
    assert isinstance(rs, ReplicaSet) and rs.kind == "ReplicaSet" and rs.selector == Selector.parse("app=api")
    assert rs.key == "rs/api" and one(RC).key == "rc/web"


def test_spec_hash_is_stable_and_sensitive():
    rc = one(RC)
    h = spec_hash(rc.template)
    assert len(h) == 16 and int(h, 16) >= 0
    assert spec_hash(one(RC).template) == h
    reordered = RC.replace("{app: web, tier: fe}", "{tier: fe, app: web}")
    assert spec_hash(one(reordered).template) == h
    assert spec_hash(one(RC.replace("cpu: 500m", "cpu: 0.5")).template) == h  # same quantity, other spelling
    assert spec_hash(one(RC.replace("busybox:1", "busybox:2")).template) != h
    assert spec_hash(one(RC.replace("cpu: 500m", "cpu: 600m")).template) != h
    assert spec_hash(one(RC.replace("tier: fe", "tier: be")).template) != h
    assert spec_hash(rc.template.spec) != h  # the spec alone (no labels) hashes differently
    assert spec_hash(rc.template.spec) == spec_hash(one(reordered).template.spec)


SVC = """
apiVersion: v1
kind: Service
metadata:
  name: db
  annotations: {orc.io/haproxy-template: mysql-rw.cfg.j2}
spec:
  type: NodePort
  clusterIP: 10.233.0.20
  selector: {app: db}
  ports:
    - {name: rw, port: 3306, targetPort: 3306, nodePort: 30306, protocol: TCP}
    - {name: ro, port: 3307, targetPort: mysql}
"""


def test_service():
    svc = one(SVC)
    assert isinstance(svc, Service)
    assert svc.key == "svc/db" and svc.type == "NodePort"
    assert svc.selector == Selector.parse("app=db")
    assert svc.haproxy_template == "mysql-rw.cfg.j2"
    assert svc.spec.cluster_ip == "10.233.0.20"
    assert [p.target for p in svc.spec.ports] == [3306, "mysql"]
    assert svc.to_manifest()["spec"]["clusterIP"] == "10.233.0.20"


def test_service_defaults():
    svc = one("apiVersion: v1\nkind: Service\nmetadata: {name: s}\nspec: {ports: [{port: 80}]}\n")
    assert svc.type == "ClusterIP" and svc.selector is None and svc.haproxy_template is None
    assert svc.spec.ports[0].target == 80


def test_examples_are_valid():
    objs = load_objects([str(ROOT / "examples" / "web-rc.yaml"), str(ROOT / "examples" / "web-svc.yaml")])
    rc, svc = objs
    assert rc.key == "rc/web" and rc.replicas == 3
    assert rc.template.spec.containers[0].image == "local/busybox:1"
    assert rc.template.labels == {"app": "web", "tier": "fe"}
    assert svc.selector.matches(rc.template.labels)
    assert svc.type == "NodePort"


def test_invalid_example_lists_every_mistake():
    with pytest.raises(ValidationError) as e:
        load_objects([str(ROOT / "examples" / "invalid.yaml")])
    lines = e.value.errors
    assert len(lines) >= 8
    assert any(
        line.endswith(': ReplicationController "Web_Frontend" is invalid: spec.replicas: Invalid value: -1: '
                      "must be greater than or equal to 0") for line in lines
    )
    assert any("`selector` does not match template `labels`" in line for line in lines)
    assert any(
        'invalid.yaml#2: Pod "cache" is invalid: spec.containers[0].securityContext.seLinuxOptions: Forbidden' in line
        for line in lines
    )
    assert any('#3: Service "cache" is invalid: spec.type: Unsupported value' in line for line in lines)


# --- loading -------------------------------------------------------------------------------------------


def test_load_directory_recursively_with_lists_and_json():
    docs = load_documents([str(FIXTURES / "dir")])
    assert [d["metadata"]["name"] for d in docs] == ["solo", "solo", "solo-2", "api"]
    assert all(isinstance(d, Document) for d in docs)
    assert docs[0].origin.endswith("dir/pod.yaml#1")
    assert docs[2].origin.endswith("dir/pod.yaml#2.items[1]")
    keys = [o.key for o in parse_objects(docs)]
    assert keys == ["pod/solo", "svc/solo", "pod/solo-2", "deploy/api"]


def test_load_stdin():
    docs = load_documents(["-"], stdin=io.StringIO("a: 1\n---\n---\nb: 2\n"))
    assert docs == [{"a": 1}, {"b": 2}]


def test_load_reports_every_unreadable_source():
    with pytest.raises(ValidationError) as e:
        load_documents([str(FIXTURES / "broken.yaml"), "no/such/file.yaml", str(FIXTURES / "dir")])
    assert e.value.errors == [
        f"error parsing {FIXTURES / 'broken.yaml'}: line 4, column 1: expected ',' or '}}', but got '<stream end>'",
        'the path "no/such/file.yaml" does not exist',
    ]


def test_multi_object_file_reports_all_mistakes():
    path = FIXTURES / "many-mistakes.yaml"
    with pytest.raises(ValidationError) as e:
        load_objects([str(path)])
    assert e.value.errors == [
        f'{path}#1: ReplicationController "web" is invalid: spec.replicas: Invalid value: -2: must be greater than or equal to 0',
        f'{path}#1: ReplicationController "web" is invalid: spec.template.metadata.labels: Invalid value: '
        'map[string]string{"app":"other"}: `selector` does not match template `labels`',
        f'{path}#2: Pod "{path}#2" is invalid: metadata.name: Required value: name or generateName is required',
        f'{path}#3: ConfigMap "settings" is invalid: data[bad key]: Invalid value: "bad key": a valid config key '
        "must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name', or 'KEY_NAME', or 'key-name', "
        "regex used for validation is '[-._a-zA-Z0-9]+')",
        f'{path}#4: Pod "p" is invalid: apiVersion: Unsupported value: "apps/v1": supported values: "v1"',
        f"{path}#5: Service \"web\" is invalid: spec.ports[0].nodePort: Forbidden: may not be used when `type` is 'ClusterIP'",
        f'{path}#5: Service "web" is invalid: spec.ports[1].name: Required value',
        f'{path}#5: Service "web" is invalid: spec.ports[1].port: Duplicate value: 80',
    ]
