"""Suite-wide settings. Under CI, property tests are derandomized (the same examples every run, so a
landing never depends on luck) and have no per-example deadline (a loaded machine is not a bug); locally
they explore new examples each run."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest
from hypothesis import settings

if TYPE_CHECKING:
    from tests.etcd_server import EtcdCluster

settings.register_profile("ci", derandomize=True, deadline=None, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")


@pytest.fixture(scope="session")
def etcd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EtcdCluster]:
    """One real etcd member for the whole session (127.0.0.1, a free port); tests use a prefix each."""
    from tests.etcd_server import etcd_cluster

    with etcd_cluster(tmp_path_factory.mktemp("etcd")) as cluster:
        yield cluster
