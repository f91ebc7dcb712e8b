"""One broken service template fails its own service only: the others on the host are still updated, and
the broken one keeps the section it last rendered (or is left out until it renders)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from orchestrator.inventory.host import Host
from orchestrator.model.load import parse_objects
from orchestrator.proxy.addresses import ServiceAddress
from orchestrator.proxy.endpoints import Endpoint
from orchestrator.proxy.render import render_isolated

HOST = Host(name="h1", address="127.0.0.11", vars={"haproxy_mode": "master-worker"})


def svc(name: str, template: str | None = None) -> Any:
    meta: dict[str, Any] = {"name": name}
    if template:
        meta["annotations"] = {"orc.io/haproxy-template": template}
    (s,) = parse_objects([{"apiVersion": "v1", "kind": "Service", "metadata": meta,
                           "spec": {"selector": {"app": name}, "ports": [{"port": 80}]}}])
    return s


def ep(service: str, pod: str, port: int) -> Endpoint:
    return Endpoint(service, None, 80, pod, pod + "-uid", "h1", "127.0.0.11", port, pod)


SERVICES = {"good": svc("good"), "amb": svc("amb", "amb.cfg.j2")}
ADDRS = {"good": ServiceAddress("10.233.0.2"), "amb": ServiceAddress("10.233.0.3")}


def test_a_broken_template_keeps_its_last_good_section_and_the_others_are_updated(tmp_path: Path) -> None:
    (tmp_path / "amb.cfg.j2").write_text("listen amb-{{ svc.name }}\n    bind {{ svc.cluster_ip }}:80\n")
    first = render_isolated(HOST, SERVICES, ADDRS, {"good": [ep("good", "g-1", 20000)]}, tmp_path)
    assert first.config is not None and not first.errors
    assert "listen amb-amb" in first.config and "server g-1 127.0.0.11:20000" in first.config

    (tmp_path / "amb.cfg.j2").write_text("listen {{ svc.no_such_field }}\n")  # broken now
    second = render_isolated(HOST, SERVICES, ADDRS, {"good": [ep("good", "g-2", 20001)]}, tmp_path,
                             last_good=first.fragments)
    assert second.config is not None
    assert "server g-2 127.0.0.11:20001" in second.config and "g-1" not in second.config  # updated
    assert "listen amb-amb" in second.config  # kept as it last rendered
    assert second.kept == {"amb"} and "amb.cfg.j2" in second.errors["amb"]


def test_a_missing_template_that_never_rendered_is_left_out_and_said(tmp_path: Path) -> None:
    r = render_isolated(HOST, SERVICES, ADDRS, {"good": [ep("good", "g-1", 20000)]}, tmp_path)
    assert r.config is not None and "server g-1" in r.config and "amb" not in r.config
    assert "not found" in r.errors["amb"] and not r.kept


def test_a_broken_main_template_renders_nothing(tmp_path: Path) -> None:
    (tmp_path / "haproxy.cfg.j2").write_text("{% for x in %}\n")
    r = render_isolated(HOST, {"good": SERVICES["good"]}, ADDRS, {}, tmp_path)
    assert r.config is None and "haproxy.cfg.j2" in r.main_error
