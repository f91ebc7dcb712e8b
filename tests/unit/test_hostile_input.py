"""Issue 13's hostile-input corpus (tests/hostile/corpus.py) against every field class, fast: each value is
refused with its field named, or arrives byte-exact (checked through the real `sh` route the pod script
takes, with a recording stand-in for docker); no shell payload ever runs (its marker file never appears)."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
from pathlib import Path

import pytest
import yaml

from orchestrator.commands.pod import container_env, create_pod, env_exports, env_file
from orchestrator.errors import ConfigError
from orchestrator.inventory.host import Host
from orchestrator.inventory.loader import load_inventory
from orchestrator.model.load import Document, parse_documents
from orchestrator.model.objects import Service
from orchestrator.model.pod import PodSpec
from orchestrator.model.text import env_file_safe
from orchestrator.plan.types import PodRun
from orchestrator.proxy.addresses import ServiceAddress
from orchestrator.proxy.config_values import UnsafeValue, hosts_word
from orchestrator.proxy.endpoints import Endpoint
from orchestrator.proxy.render import render
from tests.hostile import corpus
from tests.hostile.corpus import MARKER, bad_node_ports, bad_ports, byte_strings, every_byte_value, hostile

HOSTILE = hostile()


@pytest.fixture(autouse=True)
def no_marker():
    Path(MARKER).unlink(missing_ok=True)
    yield
    assert not Path(MARKER).exists(), "a shell payload of the corpus ran"


def pod(container: dict, **meta) -> dict:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", **meta},
            "spec": {"containers": [{"name": "c", "image": "local/busybox:1", **container}]}}


def errors_of(*docs: dict) -> list[str]:
    return parse_documents([Document(d, "hostile.yaml", i + 1) for i, d in enumerate(docs)])[1]


# --- image references ------------------------------------------------------------------------------------

def test_every_hostile_image_is_refused_naming_the_field():
    refs = corpus.image_refs()
    errors = errors_of(*[pod({"image": s}) for s in refs])
    named = {int(e.split("#")[1].split(":")[0]) - 1 for e in errors if "spec.containers[0].image: " in e}
    assert [s for i, s in enumerate(refs) if i not in named] == []
    assert all(e.isprintable() for e in errors), "an error printed a raw line break or a hidden character"


def test_valid_images_are_accepted_and_placed_after_the_end_of_dockers_options():
    docs = [pod({"image": s}, name=f"p{i}") for i, s in enumerate(corpus.VALID_IMAGES)]
    assert errors_of(*docs) == []
    for doc, s in zip(docs, corpus.VALID_IMAGES, strict=True):
        run = PodRun(name="p", uid="u", owner=None, labels={}, spec=PodSpec.model_validate(doc["spec"]),
                     spec_hash="h")
        assert f" -- {shlex.quote(s)}" in create_pod(run, "local/busybox:1", cluster="c1").shell


# --- inventory -------------------------------------------------------------------------------------------

def _inventory(tmp_path: Path, hosts: dict) -> Path:
    path = tmp_path / "inv.yaml"
    path.write_text(yaml.safe_dump({"all": {"hosts": hosts}}, allow_unicode=False, width=10**6, sort_keys=False))
    return path


def _refused(tmp_path: Path, hosts: dict) -> str:
    with pytest.raises(ConfigError) as e:
        load_inventory(_inventory(tmp_path, hosts))
    return str(e.value)


def test_hostile_host_names_are_refused_at_load_all_at_once(tmp_path):
    names = corpus.host_names()
    msg = _refused(tmp_path, {n: {"ansible_host": "10.0.0.1"} for n in names})
    lines = msg.splitlines()
    assert lines[0] == f"inventory {tmp_path / 'inv.yaml'}: {len(names)} problems:"
    assert len(lines) == len(names) + 1 and all(": host name: " in line and "inv.yaml:" in line for line in lines[1:])


def test_a_host_name_with_a_line_break_never_reaches_the_haproxy_config(tmp_path):
    msg = _refused(tmp_path, {"web\nglobal\n    stats socket /tmp/x level admin": {}})
    assert "host name" in msg and "\nglobal" not in msg


@pytest.mark.parametrize("var", ["ansible_host", "ansible_user"])
def test_hostile_addresses_and_users_are_refused_naming_the_variable(tmp_path, var):
    values = corpus.host_addresses() if var == "ansible_host" else corpus.user_names()
    msg = _refused(tmp_path, {f"h{i}": {var: v} for i, v in enumerate(values)})
    lines = msg.splitlines()[1:]
    assert len(lines) == len(values)
    assert all(f": {var}: " in line for line in lines)


def test_hostile_labels_and_capacity_are_refused_naming_the_variable(tmp_path):
    keys, values, cpus = corpus.label_keys(), corpus.label_values(), [s for s in HOSTILE if "\x00" not in s]
    hosts = {f"k{i}": {"labels": {k: "x"}} for i, k in enumerate(keys)}
    hosts |= {f"v{i}": {"labels": {"rack": v}} for i, v in enumerate(values)}
    hosts |= {f"c{i}": {"cpu": v} for i, v in enumerate(cpus)}
    lines = _refused(tmp_path, hosts).splitlines()[1:]
    for prefix, n in (("k", len(keys)), ("v", len(values)), ("c", len(cpus))):
        for i in range(n):
            mine = [ln for ln in lines if ln.startswith(f'  inventory host "{prefix}{i}" ')]
            assert mine, (prefix, i)
            assert all((": labels" if prefix != "c" else ": cpu: ") in ln for ln in mine)
    assert sum("is reserved for the labels orc probes" in ln for ln in lines) == len(corpus.RESERVED_LABEL_KEYS)


def test_hostile_pod_labels_are_refused_naming_the_field():
    keys = [k for k in corpus.label_keys() if k not in corpus.RESERVED_LABEL_KEYS and k]
    values = corpus.label_values()
    docs = [pod({}, labels={k: "x"}) for k in keys] + [pod({}, labels={"app": v}) for v in values]
    errors = errors_of(*docs)
    named = {int(e.split("#")[1].split(":")[0]) for e in errors if "metadata.labels: " in e}
    assert named == set(range(1, len(docs) + 1))
    assert all(e.isprintable() for e in errors), "a key broke or disguised its error line"


def test_a_valid_inventory_still_loads(tmp_path):
    inv = load_inventory(_inventory(tmp_path, {
        "web-01.example.com": {"ansible_host": "10.0.0.5", "ansible_user": "deploy", "cpu": "500m",
                               "memory": "4Gi", "gpus": 2, "labels": {"rack": "r1", "example.com/ssd": "true"}},
        "::1": {}, "node_3": {"ansible_host": "fe80::1"}, "db": {"ansible_host": "db.internal."}}))
    assert [h.name for h in inv.hosts()] == ["web-01.example.com", "::1", "node_3", "db"]


# --- env and argument bytes ------------------------------------------------------------------------------

def _docker_env_file(text: str) -> dict[str, str]:
    """docker's --env-file reader (cli/opts/file.go): lines split on \\n, one trailing \\r dropped, leading
    whitespace trimmed, '#' comments skipped, lines over 64 KiB refused."""
    out = {}
    for raw in text.split("\n"):
        line = raw[:-1] if raw.endswith("\r") else raw
        assert len(line.encode()) < 64 * 1024, "docker would refuse this env file (token too long)"
        line = line.lstrip()
        if line and not line.startswith("#"):
            k, _, v = line.partition("=")
            out[k] = v
    return out


def _run(values: list[str], args: list[str], secret: str) -> PodRun:
    env = [{"name": f"V{i}", "value": v} for i, v in enumerate(values)] + [
        {"name": "S", "valueFrom": {"secretKeyRef": {"name": "s", "key": "k"}}}]
    spec = PodSpec.model_validate({"containers": [{"name": "c", "image": "local/busybox:1", "command": ["sh"],
                                                   "args": args, "env": env}]})
    return PodRun(name="p", uid="u1", owner=None, labels={}, spec=spec, spec_hash="h",
                  secret_env={"c": {"S": secret}})


def test_every_env_value_takes_a_route_that_keeps_it_byte_exact():
    values = byte_strings()
    assert not errors_of(pod({"env": [{"name": f"V{i}", "value": v} for i, v in enumerate(values)]}))
    run = _run(values, [], every_byte_value())
    c = run.spec.containers[0]
    in_file = _docker_env_file(env_file(c, {}, run.secret_env["c"]))
    exported = env_exports(c, {}, run.secret_env["c"])
    for name, value in container_env(c, {}, run.secret_env["c"]).items():
        got = in_file.get(name) if env_file_safe(name, value) else exported.get(name)
        assert got == value, (name, value[:20])
    assert exported["S"] == every_byte_value()


def test_the_pod_script_delivers_env_and_args_byte_exact_through_sh(tmp_path):
    """The real create script under the real /bin/sh, with `docker` a recorder on PATH: what it would hand
    docker (argv, env file, exported environment) is exactly what the manifest said."""
    values = byte_strings()
    args = [s for s in byte_strings() if len(s) < 10_000]  # an argv's strings are bounded (MAX_ARG_STRLEN)
    run = _run(values, args, every_byte_value())
    record = tmp_path / "docker.json"
    fake = tmp_path / "bin" / "docker"
    fake.parent.mkdir()
    fake.write_text(f"""#!/usr/bin/env python3
import json, os, sys
argv = sys.argv[1:]
if argv[:1] == ["run"] and "--env-file" in argv:
    path = argv[argv.index("--env-file") + 1]
    names = [argv[i + 1] for i, a in enumerate(argv) if a == "-e"]
    out = {{"argv": [a.encode("utf-8", "surrogateescape").hex() for a in argv],
           "file": open(path, "rb").read().hex(),
           "env": {{n: os.environb[n.encode()].hex() for n in names}}}}
    json.dump(out, open({str(record)!r}, "w"))
""")
    fake.chmod(0o755)
    script = create_pod(run, "local/busybox:1", cluster="c1").shell
    cp = subprocess.run(["sh", "-s"], input=script.encode(), capture_output=True, timeout=30,
                        env={"PATH": f"{fake.parent}:{os.environ['PATH']}", "TMPDIR": str(tmp_path)})
    assert cp.returncode == 0, cp.stderr
    got = json.loads(record.read_text())
    argv = [bytes.fromhex(a).decode() for a in got["argv"]]
    assert argv[argv.index("local/busybox:1") + 1:] == args  # after `--` and the image, untouched
    env = _docker_env_file(bytes.fromhex(got["file"]).decode())
    env |= {k: bytes.fromhex(v).decode() for k, v in got["env"].items()}
    want = container_env(run.spec.containers[0], {}, run.secret_env["c"])
    assert env == want


@pytest.mark.parametrize("where", ["env", "args", "command", "annotation", "workingDir"])
def test_nul_bytes_are_refused_at_apply_naming_the_field(where):
    values = [f"a\x00{s}" for s in HOSTILE[:150]]
    if where == "env":
        doc = pod({"env": [{"name": f"V{i}", "value": v} for i, v in enumerate(values)]})
    elif where == "annotation":
        doc = pod({}, annotations={f"a{i}": v for i, v in enumerate(values)})
    elif where == "workingDir":
        doc = pod({"workingDir": values[0]})
        values = values[:1]
    else:
        doc = pod({where: values})
    errors = [e for e in errors_of(doc) if "NUL byte" in e]
    assert len(errors) == len(values)
    field = {"env": "env[", "args": "args[", "command": "command[", "annotation": "metadata.annotations.a",
             "workingDir": "workingDir"}[where]
    assert all(field in e and "\x00" not in e for e in errors)


def test_a_nul_in_a_secret_is_refused_without_showing_the_value(tmp_path):
    from orchestrator.secrets import SecretSource

    (tmp_path / "s.yaml").write_text('apiVersion: v1\nkind: Secret\nmetadata: {name: s}\nstringData: {k: "top\\0secret"}\n')
    with pytest.raises(ConfigError) as e:
        SecretSource.load(tmp_path)
    assert "stringData" in str(e.value) and "NUL" in str(e.value) and "secret" not in str(e.value).split("NUL")[0][-12:]
    assert "top" not in str(e.value)


# --- ports -----------------------------------------------------------------------------------------------

def _svc(ports: list[dict], kind: str = "NodePort") -> dict:
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s"},
            "spec": {"type": kind, "selector": {"app": "a"}, "ports": ports}}


@pytest.mark.parametrize("field", ["port", "targetPort", "nodePort", "containerPort", "hostPort"])
def test_every_bad_port_is_refused_naming_the_field(field):
    bad = [p for p in bad_ports() if not (field in ("targetPort",) and isinstance(p, str) and p.isalnum()
                                              and p.islower() and len(p) <= 15 and not p.isdigit())]
    if field == "hostPort":
        bad = [p for p in bad if p != 0]
    for p in bad:
        if field in ("containerPort", "hostPort"):
            doc = pod({"ports": [{"containerPort": 80, **{field: p}}]})
        else:
            doc = _svc([{"port": 80, **{field: p}}])
        if p is None:
            continue  # an absent optional field is fine; a required one is refused
        errors = errors_of(doc)
        assert any(f".{field}: " in e for e in errors), (field, p, errors)


def test_node_ports_outside_the_range_or_taken_are_refused_at_apply(tmp_path):
    from orchestrator.proxy.node_port_claims import claim_ops, node_port_errors
    from orchestrator.store import open_store

    def svc(name: str, node_port: int) -> Service:
        return Service.model_validate({**_svc([{"port": 80, "nodePort": node_port}]), "metadata": {"name": name}})

    with open_store(f"sqlite:{tmp_path / 'state.db'}") as store:
        outside = [svc(f"s{i}", p) for i, p in enumerate(bad_node_ports())]
        errors = node_port_errors(store, outside, range(30000, 32768))
        assert len(errors) == len(outside) and all("not in the valid range" in e for e in errors)
        # as every other apply error, each names the document it came from
        origins = {s.key: f"m.yaml#{i + 1}" for i, s in enumerate(outside)}
        located = node_port_errors(store, outside, range(30000, 32768), origins)
        assert located == [f"m.yaml#{i + 1}: {e}" for i, e in enumerate(errors)]
        store.txn(claim_ops(store, [svc("a", 30080)]))
        assert node_port_errors(store, [svc("a", 30080)], range(30000, 32768)) == []
        taken = node_port_errors(store, [svc("b", 30080), svc("c", 30081), svc("d", 30081)], range(30000, 32768))
        assert taken == [
            'Service "b" is invalid: spec.ports[0].nodePort: Invalid value: 30080: provided port is already '
            'allocated (to Service "a"): pick another or omit it',
            'Service "d" is invalid: spec.ports[0].nodePort: Duplicate value: 30081: Service "c" in this apply '
            "asks for it too"]


# --- errors at once --------------------------------------------------------------------------------------

def test_duplicate_keys_and_every_documents_errors_come_in_one_round(tmp_path):
    from orchestrator.model.load import read_objects

    (tmp_path / "m.yaml").write_text(
        "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n"
        "  - {name: c, image: a, image: b, ports: [{containerPort: 0}], env: [{name: 1x, value: 3}]}\n"
        "---\napiVersion: v1\nkind: Service\nmetadata: {name: Bad_Svc}\n"
        "spec: {ports: [{port: x}, {port: 99999}], selector: {'a b': c}}\n")
    objects, errors = read_objects([str(tmp_path / "m.yaml")])
    assert objects == []
    text = "\n".join(errors)
    assert 'line 6: key "image" already set in map' in text
    for part in ("m.yaml#1: ", "containerPort", "env[0].value", "env[0].name", "m.yaml#2: ", "metadata.name",
                 "ports[0].port", "ports[1].port", "spec.selector"):
        assert part in text, part


# --- templates -----------------------------------------------------------------------------------------

def test_hostile_template_names_are_refused_at_apply_naming_the_annotation():
    names = corpus.template_names()
    docs = [{**_svc([{"port": 80}], "ClusterIP"), "metadata": {"name": "s", "annotations": {
        "orc.io/haproxy-template": n}}} for n in names]
    errors = errors_of(*docs)
    named = {int(e.split("#")[1].split(":")[0]) for e in errors if "metadata.annotations: " in e
             and "orc.io/haproxy-template must name a file" in e}
    assert named == set(range(1, len(names) + 1))
    assert all(e.isprintable() for e in errors)


def test_every_broken_template_fails_its_own_service_only(tmp_path):
    """Each broken template (syntax, runtime, or a value that would change the config's structure) is its
    service's error, naming the service and the template; the good service on the host is rendered."""
    from orchestrator.proxy.render import render_isolated

    services, addresses = {}, {}
    for i, (text, note) in enumerate(corpus.broken_templates()):
        (tmp_path / f"t{i}.cfg.j2").write_text(text)
        meta = {"name": f"b{i}", "annotations": {"orc.io/haproxy-template": f"t{i}.cfg.j2",
                                                  **({"note": note} if note is not None else {})}}
        services[f"b{i}"] = Service.model_validate({**_svc([{"port": 80}], "ClusterIP"), "metadata": meta})
        addresses[f"b{i}"] = ServiceAddress(f"10.233.{1 + i // 250}.{1 + i % 250}")
    services["good"] = Service.model_validate({**_svc([{"port": 80}], "ClusterIP"), "metadata": {"name": "good"}})
    addresses["good"] = ServiceAddress("10.233.0.2")
    host = Host("h1", "10.0.0.1")
    eps = {"good": [Endpoint("good", None, 80, "p1", "u", "h1", "10.0.0.1", 31000, "p1")]}
    r = render_isolated(host, services, addresses, eps, tmp_path)
    assert r.config is not None and not r.main_error
    assert "server p1 10.0.0.1:31000" in r.config
    assert sorted(r.errors) == sorted(n for n in services if n != "good")
    for name, message in r.errors.items():
        assert f'Service "{name}" (annotation orc.io/haproxy-template)' in message and "\n" not in message
    named = [n for n, m in r.errors.items() if f"t{n[1:]}.cfg.j2" in m]  # and most name the file and line
    assert len(named) >= len(r.errors) - 3, sorted(set(r.errors) - set(named))
    assert "note:" not in r.config and MARKER not in r.config


# --- rendered configs ------------------------------------------------------------------------------------

def _render(tmp_path: Path, host: Host, annotation: str | None = None, check_path: str | None = None) -> str:
    (tmp_path / "tpl").mkdir(exist_ok=True)
    (tmp_path / "tpl" / "custom.cfg.j2").write_text("# {{ svc.annotations['note'] }}\n")
    meta: dict = {"name": "web"}
    if annotation is not None:
        meta["annotations"] = {"orc.io/haproxy-template": "custom.cfg.j2", "note": annotation}
    svc = Service.model_validate({**_svc([{"port": 80}], "ClusterIP"), "metadata": meta})
    eps = [Endpoint("web", None, 80, "p1", "u", host.name, host.address, 31000, "p1", check_path=check_path)]
    return render(host, {"web": svc}, {"web": ServiceAddress("10.233.0.2")}, {"web": eps}, tmp_path / "tpl")


def test_rendered_haproxy_configs_never_carry_a_value_that_changes_their_structure(tmp_path):
    clean = _render(tmp_path, Host("h1", "10.0.0.1"))
    assert "server p1 10.0.0.1:31000" in clean
    values = [s for s in HOSTILE if any(c in s for c in " \t\n\r#'\"\\") or any(ord(c) < 32 for c in s)]
    assert len(values) >= 100
    for v in values:
        for host, kw in ((Host("h1", "10.0.0.1", vars={"haproxy_socket": "/run/" + v}), {}),
                         (Host("h1", "10.0.0.1"), {"annotation": v}), (Host("h1", v), {}),
                         (Host("h1", "10.0.0.1"), {"check_path": "/" + v})):
            try:
                text = _render(tmp_path, host, **kw)
            except ConfigError as e:
                assert "would change the structure of the HAProxy config" in str(e) or "haproxy_socket" in str(e)
                assert "\n" not in str(e)
                continue
            raise AssertionError(f"rendered {v!r}: {text[-200:]!r}")


def test_hosts_file_fields_are_single_words():
    assert hosts_word("10.233.0.5") == "10.233.0.5"
    for v in [s for s in HOSTILE if any(c.isspace() or c == "#" or ord(c) < 32 for c in s)]:
        with pytest.raises(UnsafeValue):
            hosts_word(v)


@pytest.mark.parametrize("field_class", ["hostile", "image_refs", "host_names", "host_addresses", "user_names",
                                         "label_keys", "label_values", "byte_strings", "bad_ports",
                                         "bad_node_ports", "template_names", "broken_templates"])
def test_each_field_class_has_at_least_150_members(field_class):
    members = getattr(corpus, field_class)()
    assert len(members) >= 150 and len(members) == len({repr(m) for m in members}), len(members)


def test_the_marker_needs_no_quoting():
    assert shlex.quote(MARKER) == MARKER


def test_a_container_whose_env_and_args_hold_every_byte_is_still_observed():
    """`docker inspect` prints one JSON object per line and leaves U+0085 (a line break to Python's
    str.splitlines) raw: the probe must still see such a container, or the pass would think it missing
    and replace its pod every pass."""
    from orchestrator.observe.probe import parse_containers

    def inspected(name: str) -> str:
        return json.dumps({"Id": name, "Name": f"/{name}", "State": {"Status": "running"},
                           "Config": {"Image": "local/busybox:1", "Labels": {"orc.managed": "true"},
                                      "Env": [f"V{i}={v}" for i, v in enumerate(byte_strings())],
                                      "Cmd": byte_strings()}}, ensure_ascii=False)

    text = inspected("a") + "\n" + inspected("b") + "\n"
    assert "\x85" in text and "\u2028" in text
    assert [c.name for c in parse_containers(text)] == ["a", "b"]


def test_an_error_quotes_every_value_printable_and_reversible():
    from orchestrator.quote import go_quote

    for s in HOSTILE + byte_strings() + ["\U000e0001tag", "\U000f0000pua", "\ud800"]:
        q = go_quote(s)
        assert q.isprintable() and json.loads(q) == s, repr(s[:20])
    assert go_quote("名前 ü") == '"名前 ü"' and go_quote("a\u202eb") == '"a\\u202eb"'
