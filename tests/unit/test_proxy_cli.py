"""`orc proxy render`: the config a host would get, from the store and the inventory, touching no host."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from orchestrator.cli.context import AppContext
from orchestrator.cli.proxy_cmd import proxy
from orchestrator.config import ProxySettings
from orchestrator.model.load import parse_objects
from orchestrator.proxy.addresses import allocate
from orchestrator.store import keys, open_store

pytestmark = pytest.mark.timeout(30)

WEB = {
    "apiVersion": "v1",
    "kind": "Service",
    "metadata": {"name": "web"},
    "spec": {
        "type": "NodePort",
        "selector": {"app": "web"},
        "ports": [{"name": "http", "port": 80, "targetPort": "http", "nodePort": 30080}],
    },
}
LATE = {
    "apiVersion": "v1",
    "kind": "Service",
    "metadata": {"name": "late"},
    "spec": {"selector": {"app": "late"}, "ports": [{"port": 81}]},
}
SNAPSHOT = {
    "taken_at": 1.0,
    "hosts": [
        {"name": "h1", "status": "Ready", "address": "10.99.0.11"},
        {"name": "h2", "status": "Unreachable", "address": "10.99.0.12"},
    ],
    "pods": [
        {
            "name": "web-a",
            "uid": "u1",
            "host": "h1",
            "ready": True,
            "labels": {"app": "web"},
            "ports": {"80/tcp": 32768},
            "port_names": "http=80/tcp",
            "http_check": "80:/",
        },
        {
            "name": "web-b",
            "uid": "u2",
            "host": "h2",
            "ready": True,
            "labels": {"app": "web"},
            "ports": {"80/tcp": 32769},
            "port_names": "http=80/tcp",
            "http_check": "80:/",
        },
    ],
}


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "orc.yaml").write_text(
        "inventory: hosts.yaml\nstore: sqlite:state.db\nproxy: {group: edge}\n"
    )
    (tmp_path / "hosts.yaml").write_text(
        "all:\n  children:\n    edge:\n      hosts:\n        h1: {ansible_host: 10.99.0.11, haproxy_socket: /run/h1.sock}\n"
        "    other:\n      hosts:\n        h2: {ansible_host: 10.99.0.12}\n"
    )
    with open_store("sqlite:" + str(tmp_path / "state.db")) as store:
        store.put(keys.object_key("svc", "web"), WEB)
        allocate(store, {o.name: o for o in parse_objects([WEB])}, ProxySettings())  # type: ignore[misc]
        store.put(keys.object_key("svc", "late"), LATE)  # applied, not yet given an address
        store.put(keys.SNAPSHOT, SNAPSHOT)
    return tmp_path


def test_render_prints_the_hosts_config_from_store_and_snapshot(project: Path) -> None:
    result = CliRunner().invoke(
        proxy, ["render", "--host", "h1"], obj=AppContext(config_path=str(project / "orc.yaml"))
    )
    assert result.exit_code == 0, result.output + result.stderr
    assert result.stdout.startswith("# Rendered by orc for host h1;")
    assert "    stats socket /run/h1.sock mode 600 level admin expose-fd listeners\n" in result.stdout
    assert (
        "frontend fe-web-http\n    bind 10.233.0.2:80\n    bind *:30080\n    default_backend be-web-http\n"
        in result.stdout
    )
    # web-b's host is unreachable in the snapshot: not a backend.
    assert (
        "backend be-web-http\n    balance roundrobin\n    option httpchk GET /\n"
        "    server web-a 10.99.0.11:32768 check inter 1s fall 2 rise 1\n"
    ) in result.stdout
    assert "web-b" not in result.stdout and "fe-late" not in result.stdout
    assert result.stderr == "note: no cluster IP yet for late (left out); run `orc reconcile`\n"


def test_render_for_a_host_outside_the_proxy_group_is_an_error(project: Path) -> None:
    result = CliRunner().invoke(
        proxy, ["render", "--host", "h2"], obj=AppContext(config_path=str(project / "orc.yaml"))
    )
    assert result.exit_code == 1
    assert "host 'h2' is not a proxy host (proxy hosts: h1); see proxy.group in orc.yaml" in str(
        result.exception
    )
