"""Endpoints: ready pods the selector picks, as host address + published port of the target container port
(numbers and names), from observed pods (infra container labels) and from the stored snapshot."""

from __future__ import annotations

from typing import Any

import pytest

from orchestrator.model.load import parse_objects
from orchestrator.model.objects import Pod, Service
from orchestrator.observe.facts import ContainerInfo, HostFacts
from orchestrator.observe.snapshot import ObservedPod
from orchestrator.proxy.endpoints import Endpoint, StoredPod, endpoints
from orchestrator.proxy.pod_labels import infra_labels, parse_http_check, parse_port_names

HOSTS = {
    "h1": HostFacts("h1", "10.99.0.11", True),
    "h2": HostFacts("h2", "10.99.0.12", True),
    "down": HostFacts("down", "10.99.0.13", False, reason="timeout"),
}


def service(name: str, selector: dict[str, str] | None, ports: list[dict[str, Any]]) -> Service:
    spec: dict[str, Any] = {"ports": ports}
    if selector is not None:
        spec["selector"] = selector
    [obj] = parse_objects([{"apiVersion": "v1", "kind": "Service", "metadata": {"name": name}, "spec": spec}])
    assert isinstance(obj, Service)
    return obj


def pod(
    name: str,
    host: str = "h1",
    ready: bool = True,
    labels: dict[str, str] | None = None,
    ports: dict[str, int] | None = None,
    names: str = "http=80/tcp",
    check: str = "",
) -> StoredPod:
    return StoredPod(
        name=name,
        uid=f"uid-{name}-0000",
        host=host,
        ready=ready,
        labels={"app": "web"} if labels is None else labels,
        ports={"80/tcp": 32768} if ports is None else ports,
        port_names=names,
        http_check=check,
    )


def test_ready_matching_pods_on_reachable_hosts_only() -> None:
    web = service("web", {"app": "web"}, [{"port": 80}])
    pods = [
        pod("web-b", host="h2", ports={"80/tcp": 32001}),
        pod("web-a", ports={"80/tcp": 32000}),
        pod("web-unready", ready=False),
        pod("other", labels={"app": "db"}),
        pod("web-lost", host="down"),
        pod("web-nowhere", host="gone"),
        pod("web-unpublished", ports={"8080/tcp": 32009}),
    ]
    eps = endpoints({"web": web}, pods, HOSTS)["web"]
    assert [(e.server, e.target) for e in eps] == [
        ("web-a", "10.99.0.11:32000"),
        ("web-b", "10.99.0.12:32001"),
    ]
    assert eps[0] == Endpoint(
        service="web",
        port_name=None,
        service_port=80,
        pod="web-a",
        uid="uid-web-a-0000",
        host="h1",
        address="10.99.0.11",
        port=32000,
        server="web-a",
        labels={"app": "web"},
        check_path=None,
    )


def test_named_target_ports_resolve_through_the_pods_own_port_names() -> None:
    svc = service(
        "web",
        {"app": "web"},
        [
            {"name": "http", "port": 80, "targetPort": "http"},
            {"name": "admin", "port": 81, "targetPort": 9000},
        ],
    )
    pods = [
        pod("a", ports={"8080/tcp": 32000, "9000/tcp": 32100}, names="http=8080/tcp"),
        pod("b", ports={"80/tcp": 32001, "9000/tcp": 32101}, names="http=80/tcp,metrics=9100/tcp"),
        pod("c", ports={"80/tcp": 32002}, names=""),  # no port called http: not an endpoint of that port
    ]
    eps = endpoints({"web": svc}, pods, HOSTS)["web"]
    assert [(e.port_name, e.pod, e.port) for e in eps] == [
        ("http", "a", 32000),
        ("http", "b", 32001),
        ("admin", "a", 32100),
        ("admin", "b", 32101),
    ]


def test_service_without_selector_has_no_endpoints() -> None:
    assert endpoints({"ext": service("ext", None, [{"port": 80}])}, [pod("web-a")], HOSTS) == {"ext": []}


def test_two_services_on_one_port_each_pick_their_own_pods() -> None:
    svcs = {"a": service("a", {"app": "a"}, [{"port": 80}]), "b": service("b", {"app": "b"}, [{"port": 80}])}
    pods = [pod("a-1", labels={"app": "a"}), pod("b-1", labels={"app": "b"}), pod("b-2", labels={"app": "b"})]
    eps = endpoints(svcs, pods, HOSTS)
    assert {k: [e.pod for e in v] for k, v in eps.items()} == {"a": ["a-1"], "b": ["b-1", "b-2"]}


def test_same_pod_name_twice_gets_distinct_server_names() -> None:
    twins = [pod("web-a"), StoredPod("web-a", "zz00beef99", "h2", True, {"app": "web"}, {"80/tcp": 1}, "")]
    eps = endpoints({"w": service("w", {"app": "web"}, [{"port": 80}])}, twins, HOSTS)["w"]
    assert [e.server for e in eps] == ["web-a", "web-a-zz00beef"]


def test_http_check_path_only_for_the_probed_port() -> None:
    svc = service(
        "web",
        {"app": "web"},
        [{"name": "http", "port": 80}, {"name": "other", "port": 81, "targetPort": 9000}],
    )
    p = pod("a", ports={"80/tcp": 32000, "9000/tcp": 32100}, check="80:/healthz")
    eps = endpoints({"web": svc}, [p], HOSTS)["web"]
    assert [(e.service_port, e.check_path) for e in eps] == [(80, "/healthz"), (81, None)]


def _observed(labels: dict[str, str], ports: dict[str, int]) -> ObservedPod:
    common = {"orc.managed": "true", "orc.cluster": "c1", "orc.pod": "web-x", "orc.pod-uid": "u1", "orc.label.app": "web"}
    infra = ContainerInfo(
        "i",
        "orc_web-x",
        "pause",
        "running",
        0,
        "",
        "",
        0,
        None,
        {**common, "orc.infra": "true", "orc.containers": "httpd", **labels},
        ports,
    )
    app = ContainerInfo(
        "c",
        "orc_web-x_httpd",
        "busybox",
        "running",
        0,
        "",
        "",
        0,
        "healthy",
        {**common, "orc.container": "httpd"},
        {},
    )
    return ObservedPod("web-x", "u1", "h1", None, "", {"app": "web"}, infra, (app,), ("httpd",))


def test_observed_pods_read_the_infra_container_labels_create_pod_writes() -> None:
    [p] = parse_objects(
        [
            {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {"name": "web-x"},
                "spec": {
                    "containers": [
                        {
                            "name": "httpd",
                            "image": "busybox",
                            "ports": [{"name": "http", "containerPort": 80}],
                            "readinessProbe": {"httpGet": {"path": "/ready", "port": "http"}},
                        }
                    ]
                },
            }
        ]
    )
    assert isinstance(p, Pod)
    args = infra_labels(p.spec)
    assert args == ["--label", "orc.port-names=http=80/tcp", "--label", "orc.http-check=80:/ready"]
    labels = dict(a.split("=", 1) for a in args[1::2])
    svc = service("web", {"app": "web"}, [{"port": 8080, "targetPort": "http"}])
    [ep] = endpoints({"web": svc}, [_observed(labels, {"80/tcp": 32777})], HOSTS)["web"]
    assert (ep.target, ep.check_path, ep.server) == ("10.99.0.11:32777", "/ready", "web-x")


def test_label_parsers_skip_malformed_values() -> None:
    assert parse_port_names("http=80/tcp,,bad,=1/tcp,dns=53/udp") == {"http": "80/tcp", "dns": "53/udp"}
    assert parse_http_check("80:/x") == (80, "/x")
    assert parse_http_check("80:/has space") is None
    assert parse_http_check("x:/") is None
    assert parse_http_check("") is None


def test_a_readiness_path_haproxy_cannot_take_is_refused_at_apply() -> None:
    from orchestrator.errors import ValidationError

    doc = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
           "spec": {"containers": [{"name": "c", "image": "i",
                                    "readinessProbe": {"httpGet": {"path": "/a b", "port": 80}}}]}}
    with pytest.raises(ValidationError, match="httpGet.path"):
        parse_objects([doc])

