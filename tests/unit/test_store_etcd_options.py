"""How an etcd store is named: the URL (endpoints, the cluster's key prefix, TLS and auth options), built
from orc.yaml; every problem named at once; a password never in the URL."""

from __future__ import annotations

from pathlib import Path

import pytest

from orchestrator.config import load_project
from orchestrator.errors import ConfigError
from orchestrator.store.etcd_options import EtcdOptions, parse_url


def test_endpoints_prefix_and_options() -> None:
    o = parse_url("etcd://10.0.0.1:2379,etcd-2.example.org,[::1]:2380/orc/prod-eu/?ca=/etc/orc/ca.pem&timeout=2.5")
    assert o.endpoints == (("10.0.0.1", 2379), ("etcd-2.example.org", 2379), ("::1", 2380))
    assert o.prefix == "/orc/prod-eu/" and o.ca == "/etc/orc/ca.pem" and o.timeout == 2.5
    assert o.scheme == "https" and o.compact
    assert parse_url(o.url()) == o
    assert parse_url("etcd://h:1").scheme == "http" and parse_url("etcd://h:1").prefix == "/orc/"


def test_every_problem_is_named_at_once() -> None:
    with pytest.raises(ConfigError) as err:
        parse_url("etcd://bad_host:2379,h:0/a//b?cert=rel.pem&user=orc&colour=blue&timeout=-1")
    msg = str(err.value)
    for part in ("'bad_host' is not a host name", "port '0' is invalid", "key prefix '/a//b/' is invalid",
                 "option 'colour' is unknown", "cert 'rel.pem' must be an absolute path",
                 "needs both cert and key", "user 'orc' needs password_file or password_env",
                 "timeout '-1' is invalid"):
        assert part in msg, part


def test_a_password_in_the_url_is_refused_and_never_shown() -> None:
    with pytest.raises(ConfigError) as err:
        parse_url("etcd://h:1/?user=orc&password=hunter2")
    assert "never part of the URL" in str(err.value) and "hunter2" not in str(err.value)
    assert "password=[REDACTED]" in str(err.value)


def test_the_password_comes_from_its_file_or_variable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    secret = tmp_path / "pw"
    secret.write_text("s3cret\n")
    assert parse_url(f"etcd://h:1/?user=orc&password_file={secret}").password() == "s3cret"
    monkeypatch.setenv("ORC_ETCD_PW", "from-env")
    assert parse_url("etcd://h:1/?user=orc&password_env=ORC_ETCD_PW").password() == "from-env"
    monkeypatch.delenv("ORC_ETCD_PW")
    with pytest.raises(ConfigError, match="ORC_ETCD_PW .* is not set"):
        parse_url("etcd://h:1/?user=orc&password_env=ORC_ETCD_PW").password()
    with pytest.raises(ConfigError, match="cannot read the etcd password file .*/missing"):
        parse_url(f"etcd://h:1/?user=orc&password_file={tmp_path / 'missing'}").password()


def test_orc_yaml_gives_the_cluster_prefix_and_resolves_files(tmp_path: Path) -> None:
    (tmp_path / "orc.yaml").write_text(
        "cluster: prod-eu\nstore: etcd://10.0.0.1:2379,10.0.0.2:2379\n"
        "etcd:\n  ca: certs/ca.pem\n  user: orc\n  password_file: secrets/etcd-pw\n  timeout: 3\n  compact: false\n")
    project = load_project(cwd=tmp_path)
    o = parse_url(project.store_url)
    assert o.endpoints == (("10.0.0.1", 2379), ("10.0.0.2", 2379))
    assert o.prefix == "/orc/prod-eu/"
    assert o.ca == str(tmp_path / "certs" / "ca.pem") and o.password_file == str(tmp_path / "secrets" / "etcd-pw")
    assert (o.user, o.timeout, o.compact) == ("orc", 3.0, False)
    # a root of one's own: in the store URL, or as etcd.prefix
    (tmp_path / "orc.yaml").write_text("cluster: c1\nstore: etcd://h:1/teams/blue\n")
    assert parse_url(load_project(cwd=tmp_path).store_url).prefix == "/teams/blue/c1/"
    (tmp_path / "orc.yaml").write_text("cluster: c1\nstore: etcd://h:1\netcd: {prefix: /x/y}\n")
    assert parse_url(load_project(cwd=tmp_path).store_url).prefix == "/x/y/c1/"


def test_orc_yaml_without_a_cluster_or_with_bad_options_says_what_to_do(tmp_path: Path) -> None:
    (tmp_path / "orc.yaml").write_text("store: etcd://h:1\n")
    with pytest.raises(ConfigError, match="no `cluster:` name"):
        _ = load_project(cwd=tmp_path).store_url
    (tmp_path / "orc.yaml").write_text("cluster: c\nstore: etcd://h:1\netcd: {cert: c.pem, user: orc}\n")
    with pytest.raises(ConfigError, match=r"orc.yaml: store: .*needs both cert and key.*needs password_file"):
        _ = load_project(cwd=tmp_path).store_url
    (tmp_path / "orc.yaml").write_text("cluster: c\netcd: {prefix: 'no slash', password: x}\n")
    with pytest.raises(ConfigError, match=r"etcd.prefix: .*not a key prefix(.|\n)*etcd.password: Extra inputs"):
        load_project(cwd=tmp_path)


def test_where_names_no_secret() -> None:
    o = EtcdOptions(endpoints=(("h", 1),), prefix="/orc/c/", user="orc", password_env="PW")
    assert o.where == "etcd://h:1/orc/c/" and "PW" in o.url() and "password=" not in o.url()
