"""Incremental rendering (plan/services.py, proxy/render_inputs.py): a host's HAProxy config is rendered only
when what it renders from changed (its services, their addresses and endpoints, the templates, the host) or
the host no longer runs the config of its last render; the real engine over the simulated hosts."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import orchestrator.proxy.render as render
from orchestrator.proxy.render_inputs import PACKAGED_TEMPLATES
from tests.harness.lab import SimLab
from tests.unit.plan_fixtures import rc_doc

CONFIG = "/etc/haproxy/haproxy.cfg"


def svc_docs(replicas: int) -> list[dict[str, Any]]:
    rc = rc_doc("web", replicas)
    rc["spec"]["template"]["spec"]["containers"][0]["ports"] = [{"containerPort": 80}]
    svc = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"},
           "spec": {"type": "NodePort", "selector": {"app": "web"}, "ports": [{"port": 80, "targetPort": 80}]}}
    return [rc, svc]


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[SimLab]:
    lab = SimLab(tmp_path)
    yield lab
    lab.close()


@pytest.fixture
def rendered(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The hosts rendered, in order, as the pass renders them."""
    seen: list[str] = []
    real = render.render_isolated

    def counting(host: Any, *a: Any, **kw: Any) -> Any:
        seen.append(host.name)
        return real(host, *a, **kw)

    monkeypatch.setattr(render, "render_isolated", counting)
    return seen


def settle(lab: SimLab, rendered: list[str]) -> None:
    lab.apply(*svc_docs(3))
    lab.reconcile_until_quiet(limit=4)
    rendered.clear()


def test_a_no_op_pass_renders_no_proxy_config(lab: SimLab, rendered: list[str]) -> None:
    settle(lab, rendered)
    r = lab.reconcile()
    assert not r.changed and rendered == []
    assert set(lab.book().proxy_renders) == set(lab.docker)


def test_a_new_endpoint_renders_every_proxy_again(lab: SimLab, rendered: list[str]) -> None:
    settle(lab, rendered)
    lab.apply(*svc_docs(4))
    r = lab.reconcile()
    assert sorted(rendered) == sorted(lab.docker)
    assert r.changed
    new = {p[1] for p in lab.pods_of("rc/web")}
    for h in lab.docker:
        text = (lab.docker[h].haproxy_loaded or b"").decode()
        assert all(name in text for name in new), h


def test_a_config_changed_behind_our_back_is_rendered_and_restored_on_that_host_alone(
        lab: SimLab, rendered: list[str]) -> None:
    settle(lab, rendered)
    good = lab.docker["h2"].files[CONFIG]
    lab.docker["h2"].files[CONFIG] = good + b"# edited by hand\n"
    r = lab.reconcile()
    assert rendered == ["h2"] and r.changed
    assert lab.docker["h2"].files[CONFIG] == good


def test_an_edited_template_renders_every_proxy_again(lab: SimLab, rendered: list[str]) -> None:
    settle(lab, rendered)
    templates = lab.project.templates_path
    templates.mkdir(parents=True, exist_ok=True)
    text = (PACKAGED_TEMPLATES / render.MAIN_TEMPLATE).read_text()
    (templates / render.MAIN_TEMPLATE).write_text("# ours\n" + text)
    lab.reconcile()
    assert sorted(rendered) == sorted(lab.docker)
    assert all(b"# ours" in lab.docker[h].files[CONFIG] for h in lab.docker)
    rendered.clear()
    assert not lab.reconcile().changed and rendered == []
    shutil.rmtree(templates)  # back to the packaged one: rendered again
    lab.reconcile()
    assert sorted(rendered) == sorted(lab.docker)
    assert not any(b"# ours" in lab.docker[h].files[CONFIG] for h in lab.docker)


def test_hosts_read_haproxy_state_only_when_a_service_is_desired_or_a_config_is_there(lab: SimLab) -> None:
    def serving(host: str) -> str:
        (cmd,) = [c for c in lab.transport.commands_for(host) if "config-mark" in c][-1:]
        return "serving=1" if "serving=1\n" in cmd else "serving=0"

    lab.apply(svc_docs(2)[0])  # the RC alone
    lab.reconcile_until_quiet(limit=3)
    assert {serving(h) for h in lab.docker} == {"serving=0"}
    lab.apply(*svc_docs(2))
    lab.reconcile_until_quiet(limit=3)
    assert {serving(h) for h in lab.docker} == {"serving=1"}
    assert all(lab.docker[h].haproxy_pid("/run/haproxy.pid") is not None for h in lab.docker)


def test_static_facts_are_refreshed_a_few_hosts_per_pass_not_all_at_once(tmp_path: Path) -> None:
    from orchestrator.engine import facts_ttl_of

    names = tuple(f"h{i}" for i in range(20))
    shares = [facts_ttl_of(n, 100.0) for n in names]
    assert all(50.0 <= s <= 100.0 for s in shares) and len({round(s) for s in shares}) > 10
    assert facts_ttl_of("h1", 100.0) == facts_ttl_of("h1", 100.0)
    lab = SimLab(tmp_path, hosts=names, step=10.0, settings={"facts_ttl": 100.0})
    try:
        full: list[int] = []
        seen = 0
        for _ in range(12):  # 120 s: every host's facts expire once (after 50 to 100 s)
            lab.reconcile()
            total = sum(1 for h in names for b in lab.batches(h) if "system" in b)
            full.append(total - seen)
            seen = total
        assert full[0] == 20 and max(full[1:]) < 10 and sum(full[1:]) >= 20, full
    finally:
        lab.close()
