"""A ClusterSnapshot rebuilt from docker labels alone: pods grouped by uid, their phase, readiness, health,
requests and ports read back from the infra container."""

from __future__ import annotations

from dataclasses import replace

import pytest

from orchestrator.observe.facts import ContainerInfo
from orchestrator.observe.snapshot import ClusterSnapshot, _ts, pods_of
from tests.unit.plan_fixtures import T0, desired, host, iso, rc_doc, running_pod, unreachable

D = desired(rc_doc("web", 2, cpu="250m", memory="64Mi", host_port=8080, liveness=True, sidecar=True))


def web(host_name: str = "h1", **kw):
    return running_pod(D, "rc/web", host_name, name=kw.pop("name", "web-abcde"), **kw)


def only_pod(containers) -> object:
    (p,) = pods_of(host("h1", containers=containers))
    return p


def test_a_pod_is_rebuilt_from_its_containers_labels() -> None:
    run, cs = web()
    p = only_pod(cs)
    assert (p.name, p.uid, p.host, p.owner, p.spec_hash) == (
        "web-abcde",
        run.uid,
        "h1",
        "rc/web",
        run.spec_hash,
    )
    assert p.labels == {"app": "web"}
    assert p.expected == ("app", "side")
    assert [c.name for c in p.containers] == ["orc_web-abcde_app", "orc_web-abcde_side"]
    assert p.infra is not None and p.infra.name == "orc_web-abcde"
    assert p.phase == "Running" and p.ready and p.complete
    assert p.requests == {"cpu": 250, "memory": 64 << 20, "ephemeral": 0, "gpus": 0}
    assert p.host_ports == [(8080, "TCP")]
    assert p.ports == {"80/tcp": 8080}
    assert p.started_at == pytest.approx(T0, abs=1e-3)


def test_phases() -> None:
    assert only_pod(web(missing=("side",))[1]).phase == "Incomplete"
    _, cs = web()
    assert only_pod([c for c in cs if c.labels.get("orc.infra") != "true"]).phase == "Incomplete"
    assert only_pod(web(state="exited", exit_code=1)[1]).phase == "Failed"
    assert only_pod(web(state="exited", exit_code=0)[1]).phase == "Succeeded"
    assert only_pod(web(state="created")[1]).phase == "Pending"
    assert only_pod(web(state="restarting")[1]).phase == "Pending"


def test_readiness_and_liveness() -> None:
    starting = only_pod(web(health="starting")[1])
    assert starting.phase == "Running" and not starting.ready and starting.unhealthy == ()
    sick = only_pod(web(health="unhealthy")[1])
    # The app container carries the liveness probe: restarted. The sidecar's readiness probe is healthy.
    assert not sick.ready and [c.name for c in sick.unhealthy] == ["orc_web-abcde_app"]
    _, cs = web()
    side_unready = [
        replace(c, health="unhealthy") if c.labels.get("orc.container") == "side" else c for c in cs
    ]
    p = only_pod(side_unready)
    assert not p.ready and p.unhealthy == ()  # a failing readiness probe is not restarted


def test_restarts_sum_over_app_containers() -> None:
    assert only_pod(web(restart_count=2)[1]).restarts == 4


def test_two_instances_of_one_name_are_two_pods() -> None:
    a, ca = web(uid="a" * 32)
    b, cb = web(uid="b" * 32, started=T0 + 5)
    pods = pods_of(host("h1", containers=ca + cb))
    assert [(p.name, p.uid) for p in pods] == [("web-abcde", a.uid), ("web-abcde", b.uid)]


def test_unmanaged_containers_are_ignored_and_unlabelled_ones_are_orphans() -> None:
    _, cs = web()
    theirs = replace(cs[0], name="postgres", labels={"com.docker.compose.project": "x"})
    orphan = replace(cs[0], name="stray", labels={"orc.managed": "true", "orc.cluster": "c1"})
    s = ClusterSnapshot.build([host("h1", containers=[*cs, theirs, orphan]), unreachable("h2")], T0, cluster="c1")
    assert [p.name for p in s.pods] == ["web-abcde"]
    assert [(h, c.name) for h, c in s.orphans] == [("h1", "stray")]
    assert set(s.hosts) == {"h1", "h2"} and not s.hosts["h2"].ready


def test_to_dict_is_what_orc_get_shows() -> None:
    run, cs = web(health="starting")
    s = ClusterSnapshot.build([host("h1", containers=cs), unreachable("h2")], T0 + 1, cluster="c1")
    d = s.to_dict()
    assert d["taken_at"] == T0 + 1
    assert [(h["name"], h["status"]) for h in d["hosts"]] == [("h1", "Ready"), ("h2", "Unreachable")]
    (p,) = d["pods"]
    assert p["phase"] == "Running" and p["ready"] is False
    assert p["containers_ready"] == "1/2"
    assert p["host_ports"] == ["8080/TCP"] and p["uid"] == run.uid


def test_bad_labels_do_not_break_the_snapshot() -> None:
    _, cs = web()
    infra = next(c for c in cs if c.labels.get("orc.infra") == "true")
    broken = replace(
        infra, labels={**infra.labels, "orc.requests": "{not json", "orc.host-ports": "x/TCP,,80"}
    )
    p = only_pod([broken, *[c for c in cs if c is not infra]])
    assert p.requests == {} and p.host_ports == [(80, "TCP")]


@pytest.mark.parametrize(
    ("text", "want"),
    [
        ("2024-01-02T03:04:05.123456789Z", 1704164645.123456),
        ("2024-01-02T03:04:05Z", 1704164645.0),
        ("2024-01-02T04:04:05.5+01:00", 1704164645.5),
        ("0001-01-01T00:00:00Z", None),
        ("", None),
        ("yesterday", None),
    ],
)
def test_docker_times(text: str, want: float | None) -> None:
    assert _ts(text) == (pytest.approx(want) if want is not None else None)


def test_iso_fixture_round_trips_through_the_parser() -> None:
    assert _ts(iso(T0 + 0.25)) == pytest.approx(T0 + 0.25)


def test_container_info_pod_labels_strip_the_prefix() -> None:
    c = ContainerInfo(
        "i",
        "n",
        "img",
        "running",
        0,
        "",
        "",
        0,
        None,
        {"orc.label.app": "web", "orc.label.example.com/tier": "fe", "orc.pod": "x", "app": "no"},
        {},
    )
    assert c.pod_labels == {"app": "web", "example.com/tier": "fe"}


def test_a_solo_pod_is_rebuilt_from_its_one_container() -> None:
    """A one-container pod's container is its sandbox too (orc.infra=self): the pod is complete, runs, and
    has its ports, requests and grace from it; it is counted once."""
    from tests.unit.plan_fixtures import T0, desired, rc_doc, running_pod

    d = desired(rc_doc("web", 1, host_port=8080))
    _, cs = running_pod(d, "rc/web", "h1", name="web-aaaaa", uid="u1")
    (c,) = cs
    assert c.labels["orc.infra"] == "self" and c.ports
    (pod,) = ClusterSnapshot.build([host("h1", containers=cs)], T0, cluster="c1").pods
    assert pod.complete and pod.phase == "Running" and pod.ready and not pod.sandbox_changed
    assert pod.infra is c and pod.containers == (c,) and pod.ports == dict(c.ports)
    assert pod.requests == {"cpu": 100, "ephemeral": 0, "gpus": 0, "memory": 0} and pod.grace == 30
    assert pod.host_ports == [(8080, "TCP")] and pod.started_at is not None
    _, crashed = running_pod(d, "rc/web", "h1", name="web-bbbbb", uid="u2", state="exited", exit_code=1)
    (failed,) = ClusterSnapshot.build([host("h1", containers=crashed)], T0, cluster="c1").pods
    assert failed.phase == "Failed" and not failed.ready
