"""Discovery: Kubernetes' service environment variable names and values, and the pods' hosts file."""

from __future__ import annotations

from typing import Any

from orchestrator.inventory.host import Host
from orchestrator.model.load import parse_objects
from orchestrator.model.objects import Service
from orchestrator.proxy.addresses import ServiceAddress
from orchestrator.proxy.discovery import hosts_file, hosts_file_path, service_env


def service(name: str, ports: list[dict[str, Any]]) -> Service:
    doc = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name},
        "spec": {"selector": {"app": name}, "ports": ports},
    }
    [obj] = parse_objects([doc])
    assert isinstance(obj, Service)
    return obj


SERVICES = {
    "redis-master": service("redis-master", [{"port": 6379}]),
    "web": service("web", [{"name": "http", "port": 80}, {"name": "metrics-port", "port": 9100}]),
    "pending": service("pending", [{"port": 1}]),
}
ADDRS = {"redis-master": ServiceAddress("10.233.0.5"), "web": ServiceAddress("10.233.0.2", {80: 30080})}


def test_service_env_as_kubernetes_names_it() -> None:
    assert service_env(SERVICES, ADDRS) == {
        "REDIS_MASTER_SERVICE_HOST": "10.233.0.5",
        "REDIS_MASTER_SERVICE_PORT": "6379",
        "REDIS_MASTER_PORT": "tcp://10.233.0.5:6379",
        "REDIS_MASTER_PORT_6379_TCP": "tcp://10.233.0.5:6379",
        "REDIS_MASTER_PORT_6379_TCP_PROTO": "tcp",
        "REDIS_MASTER_PORT_6379_TCP_PORT": "6379",
        "REDIS_MASTER_PORT_6379_TCP_ADDR": "10.233.0.5",
        "WEB_SERVICE_HOST": "10.233.0.2",
        "WEB_SERVICE_PORT": "80",
        "WEB_SERVICE_PORT_HTTP": "80",
        "WEB_SERVICE_PORT_METRICS_PORT": "9100",
        "WEB_PORT": "tcp://10.233.0.2:80",
        "WEB_PORT_80_TCP": "tcp://10.233.0.2:80",
        "WEB_PORT_80_TCP_PROTO": "tcp",
        "WEB_PORT_80_TCP_PORT": "80",
        "WEB_PORT_80_TCP_ADDR": "10.233.0.2",
        "WEB_PORT_9100_TCP": "tcp://10.233.0.2:9100",
        "WEB_PORT_9100_TCP_PROTO": "tcp",
        "WEB_PORT_9100_TCP_PORT": "9100",
        "WEB_PORT_9100_TCP_ADDR": "10.233.0.2",
    }


def test_hosts_file_lists_services_with_an_address_sorted() -> None:
    assert hosts_file(SERVICES, ADDRS) == "127.0.0.1 localhost\n10.233.0.5 redis-master\n10.233.0.2 web\n"
    assert hosts_file({}, {}) == "127.0.0.1 localhost\n"


def test_hosts_file_path_and_mount_from_host_vars() -> None:
    assert hosts_file_path(Host("a", "a"), "c1") == "/var/lib/orc/c1/hosts"  # one per cluster
    assert hosts_file_path(Host("a", "a", vars={"orc_state_dir": "/srv/orc"}), "c2") == "/srv/orc/c2/hosts"
    lab = Host("b", "b", vars={"orc_hosts_file": "/var/lib/orc-lab/lab/hosts/lab1/hosts"})
    assert hosts_file_path(lab, "c1") == "/var/lib/orc-lab/lab/hosts/lab1/hosts"  # as given
