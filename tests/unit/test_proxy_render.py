"""Rendering HAProxy configs: the exact default output, a real `haproxy -c` of it, project templates winning
over the packaged default, a service's own template (the ambassador example), and errors that name the
template file and line."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from orchestrator.errors import ConfigError
from orchestrator.inventory.host import Host
from orchestrator.model.load import load_objects, parse_objects
from orchestrator.model.objects import Service
from orchestrator.observe.facts import HostFacts
from orchestrator.proxy.addresses import ServiceAddress
from orchestrator.proxy.endpoints import StoredPod, endpoints
from orchestrator.proxy.render import PACKAGED_TEMPLATES, render

REPO = Path(__file__).resolve().parents[2]
HOST = Host(
    "lab1", "10.99.0.11", vars={"haproxy_mode": "master-worker", "haproxy_socket": "/run/orc/admin.sock"}
)
HOSTS = {"lab1": HostFacts("lab1", "10.99.0.11", True), "lab2": HostFacts("lab2", "10.99.0.12", True)}
HAPROXY = shutil.which("haproxy") or ("/usr/sbin/haproxy" if Path("/usr/sbin/haproxy").exists() else None)


def service(name: str, spec: dict[str, Any], annotations: dict[str, str] | None = None) -> Service:
    meta: dict[str, Any] = {"name": name}
    if annotations:
        meta["annotations"] = annotations
    [obj] = parse_objects([{"apiVersion": "v1", "kind": "Service", "metadata": meta, "spec": spec}])
    assert isinstance(obj, Service)
    return obj


WEB = service(
    "web",
    {
        "type": "NodePort",
        "selector": {"app": "web"},
        "ports": [{"name": "http", "port": 80, "targetPort": "http"}],
    },
)
REDIS = service("redis", {"selector": {"app": "redis"}, "ports": [{"port": 6379}]})
PODS = [
    StoredPod("web-a", "u1", "lab1", True, {"app": "web"}, {"80/tcp": 32768}, "http=80/tcp", "80:/"),
    StoredPod("web-b", "u2", "lab2", True, {"app": "web"}, {"80/tcp": 32769}, "http=80/tcp", "80:/"),
]
ADDRS = {"web": ServiceAddress("10.233.0.2", {80: 30080}), "redis": ServiceAddress("10.233.0.3")}

EXPECTED = """\
# Rendered by orc for host lab1; rewritten on every change: edit the template, not this file.
global
    master-worker
    maxconn 4096
    stats socket /run/orc/admin.sock mode 600 level admin expose-fd listeners
    stats timeout 30s

defaults
    mode tcp
    option redispatch 1
    retries 3
    timeout connect 2s
    timeout client 1m
    timeout server 1m
    timeout check 2s

frontend fe-redis-6379
    bind 10.233.0.3:6379
    default_backend be-redis-6379

backend be-redis-6379
    balance roundrobin

frontend fe-web-http
    bind 10.233.0.2:80
    bind *:30080
    default_backend be-web-http

backend be-web-http
    balance roundrobin
    option httpchk GET /
    server web-a 10.99.0.11:32768 check inter 1s fall 2 rise 1
    server web-b 10.99.0.12:32769 check inter 1s fall 2 rise 1
"""


def _render(services: dict[str, Service], templates: Path | None = None, addrs: Any = ADDRS) -> str:
    return render(HOST, services, addrs, endpoints(services, PODS, HOSTS), templates)


def test_default_config_exact() -> None:
    assert _render({"web": WEB, "redis": REDIS}) == EXPECTED


def test_services_without_an_address_are_left_out() -> None:
    text = _render({"web": WEB, "redis": REDIS}, addrs={"web": ADDRS["web"]})
    assert "fe-redis" not in text and "fe-web-http" in text


def test_repository_template_is_the_packaged_default() -> None:
    assert (REPO / "templates" / "haproxy.cfg.j2").read_text() == (
        PACKAGED_TEMPLATES / "haproxy.cfg.j2"
    ).read_text()


def _haproxy_check(tmp_path: Path, text: str) -> subprocess.CompletedProcess[str]:
    cfg = tmp_path / "haproxy.cfg"
    cfg.write_text(text)
    assert HAPROXY is not None
    return subprocess.run([HAPROXY, "-c", "-f", str(cfg)], capture_output=True, text=True, timeout=20)


@pytest.mark.skipif(HAPROXY is None, reason="haproxy is not installed")
def test_rendered_default_config_passes_haproxy_check(tmp_path: Path) -> None:
    result = _haproxy_check(tmp_path, _render({"web": WEB, "redis": REDIS}))
    assert result.returncode == 0, result.stdout + result.stderr


def test_project_template_wins_over_the_packaged_default(tmp_path: Path) -> None:
    (tmp_path / "haproxy.cfg.j2").write_text(
        "{% for s in services %}{{ s.name }}={{ s.cluster_ip }}\n{% endfor %}"
    )
    assert _render({"web": WEB, "redis": REDIS}, tmp_path) == "redis=10.233.0.3\nweb=10.233.0.2\n"


def test_undefined_variable_names_the_template_file_and_line(tmp_path: Path) -> None:
    (tmp_path / "haproxy.cfg.j2").write_text(
        "global\n{% for s in services %}\n    bind {{ s.clusterip }}\n{% endfor %}\n"
    )
    with pytest.raises(ConfigError) as e:
        _render({"web": WEB}, tmp_path)
    assert str(e.value).startswith(
        f"HAProxy config for host lab1: template {tmp_path}/haproxy.cfg.j2, line 3: "
    )
    assert "clusterip" in str(e.value)


def test_syntax_error_names_the_template_file_and_line(tmp_path: Path) -> None:
    (tmp_path / "haproxy.cfg.j2").write_text("global\n\n{% for s in services %}\n")
    with pytest.raises(ConfigError, match=rf"template {tmp_path}/haproxy.cfg.j2, line 3: Unexpected end"):
        _render({"web": WEB}, tmp_path)


def test_error_in_a_service_template_names_that_file(tmp_path: Path) -> None:
    (tmp_path / "mine.cfg.j2").write_text("# {{ svc.name }}\n# {{ svc.nope }}\n")
    mine = service(
        "mine",
        {"selector": {"app": "web"}, "ports": [{"port": 80}]},
        {"orc.io/haproxy-template": "mine.cfg.j2"},
    )
    with pytest.raises(ConfigError, match=rf"template {tmp_path}/mine.cfg.j2, line 2: .*nope"):
        _render({"mine": mine}, tmp_path, addrs={"mine": ServiceAddress("10.233.0.9")})


def test_missing_service_template_names_the_service(tmp_path: Path) -> None:
    mine = service(
        "mine",
        {"selector": {"app": "web"}, "ports": [{"port": 80}]},
        {"orc.io/haproxy-template": "absent.cfg.j2"},
    )
    with pytest.raises(
        ConfigError,
        match=r'Service "mine" \(annotation orc.io/haproxy-template\): template '
        r"'absent.cfg.j2' not found",
    ):
        _render({"mine": mine}, tmp_path, addrs={"mine": ServiceAddress("10.233.0.9")})


def test_ambassador_example_sends_writes_to_the_primary_and_reads_to_replicas(tmp_path: Path) -> None:
    objs = load_objects([str(REPO / "examples" / "ambassador")])
    services = {o.name: o for o in objs if isinstance(o, Service)}
    assert set(services) == {"db"}
    pods = [
        StoredPod(
            "db-primary-x",
            "u1",
            "lab1",
            True,
            {"app": "db", "role": "primary"},
            {"80/tcp": 32001},
            "http=80/tcp",
        ),
        StoredPod(
            "db-replica-y",
            "u2",
            "lab2",
            True,
            {"app": "db", "role": "replica"},
            {"80/tcp": 32002},
            "http=80/tcp",
        ),
        StoredPod(
            "db-replica-z",
            "u3",
            "lab1",
            True,
            {"app": "db", "role": "replica"},
            {"80/tcp": 32003},
            "http=80/tcp",
        ),
    ]
    addrs = {"db": ServiceAddress("10.233.0.7", {5432: 30432, 5433: 30433})}
    text = render(HOST, services, addrs, endpoints(services, pods, HOSTS), REPO / "templates")
    write, read = text.split("\nbackend be-db-write")[1].split("\nbackend be-db-read")
    assert [ln.split()[1] for ln in write.splitlines() if ln.strip().startswith("server")] == ["db-primary-x"]
    assert [ln.split()[1] for ln in read.splitlines() if ln.strip().startswith("server")] == [
        "db-replica-y",
        "db-replica-z",
    ]
    assert "bind 10.233.0.7:5432" in text and "bind *:30433" in text
    if HAPROXY is not None:
        result = _haproxy_check(tmp_path, text)
        assert result.returncode == 0, result.stdout + result.stderr
