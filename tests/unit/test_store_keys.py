"""Store key builders: every module spells the key layout the same way."""

from __future__ import annotations

import pytest

from orchestrator.errors import StoreError
from orchestrator.store import keys


def test_object_keys_round_trip() -> None:
    assert keys.object_key("pod", "web-1") == "pod/web-1"
    assert keys.split_object_key("rc/web") == ("rc", "web")
    assert keys.kind_prefix("svc") == "svc/"


def test_each_workload_kind_has_its_own_key() -> None:
    from orchestrator.model.load import parse_objects

    template = {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "a", "image": "b"}]}}
    docs = [{"apiVersion": "v1", "kind": "ReplicationController", "metadata": {"name": "web"},
             "spec": {"template": template}}]
    docs += [{"apiVersion": "apps/v1", "kind": kind, "metadata": {"name": "web"},
              "spec": {"selector": {"matchLabels": {"app": "web"}}, "template": template}}
             for kind in ("ReplicaSet", "Deployment")]
    got = [o.key for o in parse_objects(docs)]
    assert got == ["rc/web", "rs/web", "deploy/web"]
    assert [keys.split_object_key(k) for k in got] == [("rc", "web"), ("rs", "web"), ("deploy", "web")]
    assert [keys.object_key(k.split("/")[0], "web") for k in got] == got


@pytest.mark.parametrize(("kind", "name"), [("Pod", "web"), ("pod", ""), ("pod", "a/b"), ("", "web")])
def test_bad_object_keys_are_refused(kind: str, name: str) -> None:
    with pytest.raises(StoreError, match="invalid"):
        keys.object_key(kind, name)


def test_bookkeeping_keys_live_under_meta() -> None:
    built = [
        keys.host_failure_key("node-1"),
        keys.evicted_key("web-1"),
        keys.cluster_ip_key("10.233.0.7"),
        keys.node_port_key(30080),
        keys.SNAPSHOT,
        keys.moved_key("rc/web"),
    ]
    assert built == [
        "_meta/host-failure/node-1",
        "_meta/evicted/web-1",
        "_meta/cluster-ip/10.233.0.7",
        "_meta/node-port/30080",
        "_meta/snapshot",
        "_meta/moved/rc/web",
    ]
    with pytest.raises(StoreError, match="not an object key"):
        keys.split_object_key(keys.SNAPSHOT)
