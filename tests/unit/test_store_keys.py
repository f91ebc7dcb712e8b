"""Store key builders: every module spells the key layout the same way."""

from __future__ import annotations

import pytest

from orchestrator.errors import StoreError
from orchestrator.store import keys


def test_object_keys_round_trip() -> None:
    assert keys.object_key("pod", "web-1") == "pod/web-1"
    assert keys.split_object_key("rc/web") == ("rc", "web")
    assert keys.kind_prefix("svc") == "svc/"


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
    ]
    assert built == [
        "_meta/host-failure/node-1",
        "_meta/evicted/web-1",
        "_meta/cluster-ip/10.233.0.7",
        "_meta/node-port/30080",
        "_meta/snapshot",
    ]
    with pytest.raises(StoreError, match="not an object key"):
        keys.split_object_key(keys.SNAPSHOT)
