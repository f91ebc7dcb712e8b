"""Issue 13's hostile-input corpus (tests/hostile/corpus.py), all of it, through the real CLI on the lab, in
as few applies and passes as it takes: every value of a refusal class is refused with its document and
field named (one `orc apply` for every manifest class, one `orc reconcile -i` for every inventory class),
every accepted env, argument and secret byte string arrives byte-exact in a running container (read back
from /proc/1/environ and /proc/1/cmdline with `orc exec`), every broken service template fails its own
service while a good service on the same proxies is served, and no shell payload of the corpus ever ran:
its marker file appears neither on the controller nor on any lab host (they share this machine's /tmp)
nor in the container."""

from __future__ import annotations

import base64
import http.client
import json
import re
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.e2e.conftest import lab_pods
from tests.e2e.helpers import orc
from tests.hostile import corpus
from tests.hostile.corpus import MARKER

pytestmark = pytest.mark.e2e


_PLAIN_NAME = re.compile(r"[A-Za-z0-9._-]+")


def stray_files(lab, project: Path) -> list[str]:  # type: ignore[no-untyped-def]
    """Files whose names no orc code or test would write, in what each lab host's sshd and orc write (its
    state, proxy and home folders: the batch scripts run there) and in the project: what a value that
    became a path or a shell word would leave."""
    roots = [project] + [d for h in lab.spec.lab_hosts() for d in (h.state_dir, h.proxy_dir, h.home)]
    return [str(p) for root in roots if root.exists() for p in root.rglob("*")
            if not _PLAIN_NAME.fullmatch(p.name)]


@pytest.fixture(autouse=True)
def no_stray_file(lab, project: Path) -> Iterator[None]:  # type: ignore[no-untyped-def]
    """After each test: the shell payloads' marker is nowhere, and no file with a corpus value's name
    appeared on a lab host or in the project."""
    Path(MARKER).unlink(missing_ok=True)
    yield
    assert not Path(MARKER).exists(), "a shell payload of the corpus ran on the controller or a lab host"
    assert stray_files(lab, project) == []


def dump(docs: list[dict]) -> str:
    """YAML with every non-printable character escaped, each scalar on one line."""
    return yaml.safe_dump_all(docs, allow_unicode=False, width=2**31, sort_keys=False)


def scalar(value: str) -> str:
    """One double-quoted YAML scalar on one line."""
    text = yaml.safe_dump(value, default_style='"', allow_unicode=False, width=2**31)
    return text.removesuffix("\n...\n").rstrip("\n")


def pod(name: str, container: dict | None = None, **meta: Any) -> dict:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, **meta},
            "spec": {"containers": [{"name": "c", "image": "local/busybox:1", **(container or {})}]}}


def service(name: str, port: dict, kind: str = "ClusterIP", **meta: Any) -> dict:
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, **meta},
            "spec": {"type": kind, "selector": {"app": name}, "ports": [port]}}


def by_document(stderr: str, file: str) -> dict[int, list[str]]:
    out: dict[int, list[str]] = {}
    for line in stderr.split("\n"):
        m = re.match(rf"{re.escape(file)}#(\d+): ", line)
        if m:
            out.setdefault(int(m.group(1)), []).append(line)
    return out


def test_every_hostile_manifest_value_is_refused_by_name_in_one_apply(lab, project: Path) -> None:
    docs: list[dict] = []
    want: list[tuple[int, str]] = []  # (document number, the field its error must name)

    def add(doc: dict, *fields: str) -> None:
        docs.append(doc)
        want.extend((len(docs), f) for f in fields)

    for i, ref in enumerate(corpus.image_refs()):
        add(pod(f"img-{i}", {"image": ref}), "spec.containers[0].image")
    for i, name in enumerate(corpus.template_names()):
        add(service(f"tpl-{i}", {"port": 80}, annotations={"orc.io/haproxy-template": name}), "metadata.annotations")
    for i, key in enumerate(k for k in corpus.label_keys() if k not in corpus.RESERVED_LABEL_KEYS):
        add(pod(f"lk-{i}", labels={key: "x"}), "metadata.labels")
    for i, value in enumerate(corpus.label_values()):
        add(pod(f"lv-{i}", labels={"app": value}), "metadata.labels")
    bad = [p for p in corpus.bad_ports() if p is not None]
    for i, p in enumerate(bad):
        add(pod(f"cp-{i}", {"ports": [{"containerPort": p}]}), "spec.containers[0].ports[0].containerPort")
        add(service(f"sp-{i}", {"port": p}), "spec.ports[0].port")
    for i, p in enumerate(corpus.bad_node_ports()):
        add(service(f"np-{i}", {"port": 80, "nodePort": p}, "NodePort"), "spec.ports[0].nodePort")
    nul = [f"a\x00{s}" for s in corpus.byte_strings()[:200]]
    add(pod("nul-env", {"env": [{"name": f"V{i}", "value": v} for i, v in enumerate(nul)]}),
        *[f"spec.containers[0].env[{i}].value" for i in range(len(nul))])
    add(pod("nul-args", {"args": nul}), *[f"spec.containers[0].args[{i}]" for i in range(len(nul))])
    add(pod("nul-command", {"command": nul}), *[f"spec.containers[0].command[{i}]" for i in range(len(nul))])
    (project / "m.yaml").write_text(dump(docs))

    cp = orc("apply", "-f", "m.yaml", cwd=project, timeout=180)
    assert cp.returncode == 1, cp.stdout + cp.stderr[-2000:]
    errors = by_document(cp.stderr, "m.yaml")
    missing = [(n, f, docs[n - 1]["metadata"]["name"]) for n, f in want
               if not any(f"{f}: " in line for line in errors.get(n, []))]
    assert missing == [], f"{len(missing)} of {len(want)} refused values not named: {missing[:10]}"
    lines = cp.stderr.split("\n")[:-1]
    assert lines[-1] == f"error: {len(lines) - 1} problems found; nothing was applied", lines[-1]
    strays = [ln[:120] for ln in lines[:-1] if not (ln.startswith("m.yaml#") and ln.isprintable())]
    assert strays == [], "a value broke or disguised an error line"
    stored = orc("get", "all", "-o", "json", cwd=project)
    assert stored.returncode == 0 and json.loads(stored.stdout)["items"] == [], stored.stdout[:500]


def test_hostile_inventory_values_are_refused_at_load_and_no_host_is_touched(lab, project: Path) -> None:
    (project / "calm.yaml").write_text(dump([pod("calm", {"command": ["sleep", "600"]})]))
    assert orc("apply", "-f", "calm.yaml", cwd=project).returncode == 0
    inv = project / "inv"
    inv.mkdir()
    shutil.copy(lab.inventory, inv / "tlab.yaml")
    lines = ["all:", "  children:", "    hostile:", "      hosts:"]
    want: list[tuple[int, str]] = []  # (line, the variable its error must name)

    def host(name: str, var: str, extra: str = "") -> None:
        lines.append(f"        ? {name}")  # an explicit key: a plain one is limited to 1024 characters
        want.append((len(lines), var))
        lines.append(f"        : {{{extra}}}")

    spare = "ansible_host: 10.99.1.250"  # never reached: the inventory is refused before any host is
    for name in corpus.host_names():
        host(scalar(name), "host name")
    for i, v in enumerate(corpus.host_addresses()):
        host(f"a{i}", "ansible_host", f"ansible_host: {scalar(v)}")
    for i, v in enumerate(corpus.user_names()):
        host(f"u{i}", "ansible_user", f"{spare}, ansible_user: {scalar(v)}")
    for i, k in enumerate(corpus.label_keys()):
        host(f"k{i}", "labels", f"{spare}, labels: {{? {scalar(k)} : x}}")
    for i, v in enumerate(corpus.label_values()):
        host(f"v{i}", "labels.rack", f"{spare}, labels: {{rack: {scalar(v)}}}")
    (inv / "hostile.yaml").write_text("\n".join(lines) + "\n")

    cp = orc("-i", str(inv), "reconcile", cwd=project)
    assert cp.returncode == 1, cp.stdout + cp.stderr[-2000:]
    path = inv / "hostile.yaml"
    missing = [(n, var) for n, var in want if f"({path}:{n}): {var}" not in cp.stderr]
    assert missing == [], f"{len(missing)} of {len(want)} refused values not named: {missing[:10]}"
    head, *problems = cp.stderr.split("\n")[:-1]
    assert head.endswith(f": {len(problems)} problems:") and len(problems) >= len(want), head
    assert all(ln.startswith("  inventory host ") and ln.isprintable() for ln in problems), "a value broke a line"
    assert cp.stdout == "" and lab_pods(lab) == {h.name: [] for h in lab.spec.lab_hosts()}, "a host was touched"


def _od(project: Path, path: str) -> bytes:
    """A file of the pod's container, read back byte for byte (through `od`, so the CLI carries only text)."""
    cp = orc("exec", "bytes", "--", "od", "-An", "-tx1", "-v", path, cwd=project)
    assert cp.returncode == 0, cp.stderr
    return bytes.fromhex("".join(cp.stdout.split()))


def test_every_accepted_byte_string_arrives_byte_exact_in_a_running_container(lab, project: Path) -> None:
    values = corpus.byte_strings()
    args = [s for s in values if len(s.encode()) < 100_000]  # one argv string is at most 128 KiB (Linux)
    (project / "secrets").mkdir()
    (project / "secrets" / "bytes.yaml").write_text(dump([{
        "apiVersion": "v1", "kind": "Secret", "metadata": {"name": "bytes"},
        "data": {f"k{i}": base64.b64encode(v.encode()).decode() for i, v in enumerate(values)}}]))
    script = "trap 'exit 0' TERM; while :; do sleep 1; done"
    env = ([{"name": f"V{i}", "value": v} for i, v in enumerate(values)]
           + [{"name": f"S{i}", "valueFrom": {"secretKeyRef": {"name": "bytes", "key": f"k{i}"}}}
              for i in range(len(values))])
    doc = pod("bytes", {"command": ["sh", "-c", script, "sh"], "args": args, "env": env})
    doc["spec"]["terminationGracePeriodSeconds"] = 1
    (project / "bytes.yaml").write_text(dump([doc]))
    applied = orc("apply", "-f", "bytes.yaml", cwd=project)
    assert applied.returncode == 0, applied.stderr[-2000:]
    cp = orc("reconcile", "--wait", "60", cwd=project, timeout=120)
    assert cp.returncode == 0, cp.stdout + cp.stderr[-2000:]

    environ = dict(e.split(b"=", 1) for e in _od(project, "/proc/1/environ").split(b"\0") if e)
    got_env = {k.decode(): v for k, v in environ.items() if re.fullmatch(rb"[VS]\d+", k)}
    want_env = {f"{p}{i}": v.encode() for i, v in enumerate(values) for p in "VS"}
    wrong = sorted(k for k in want_env if got_env.get(k) != want_env[k])
    assert wrong == [] and len(got_env) == len(want_env), [(k, want_env[k][:20], got_env.get(k, b"")[:20])
                                                          for k in wrong[:10]]
    cmdline = _od(project, "/proc/1/cmdline").split(b"\0")
    assert cmdline[:4] == [b"sh", b"-c", script.encode(), b"sh"]
    assert cmdline[4:] == [a.encode() for a in args] + [b""], "an argument lost or changed a byte"
    inside = orc("exec", "bytes", "--", "ls", MARKER, cwd=project)
    assert inside.returncode != 0, "a shell payload ran in the container"


def _answers(address: str, port: int) -> str | None:
    try:
        conn = http.client.HTTPConnection(address, port, timeout=3)
        conn.request("GET", "/")
        r = conn.getresponse()
        body = r.read().decode().strip()
        conn.close()
        return body if r.status == 200 else None
    except (OSError, http.client.HTTPException):
        return None


def test_every_broken_template_fails_its_own_service_and_a_good_service_is_served(lab, project: Path) -> None:
    broken = corpus.broken_templates()
    (project / "templates").mkdir()
    docs = []
    for i, (text, note) in enumerate(broken):
        (project / "templates" / f"t{i}.cfg.j2").write_text(text)
        notes = {"note": note} if note is not None else {}
        docs.append(service(f"b{i}", {"port": 80}, annotations={"orc.io/haproxy-template": f"t{i}.cfg.j2", **notes}))
    docs.append(service("good", {"port": 80, "nodePort": 30195}, "NodePort"))
    docs.append({"apiVersion": "v1", "kind": "ReplicationController", "metadata": {"name": "good"}, "spec": {
        "replicas": 1, "template": {"metadata": {"labels": {"app": "good"}}, "spec": {
            "terminationGracePeriodSeconds": 1, "containers": [{
                "name": "httpd", "image": "local/busybox:1", "ports": [{"containerPort": 80}],
                "command": ["sh", "-c", "echo good > /tmp/index.html; trap 'exit 0' TERM; "
                            "httpd -f -p 80 -h /tmp & wait"]}]}}}})
    (project / "m.yaml").write_text(dump(docs))
    applied = orc("apply", "-f", "m.yaml", cwd=project, timeout=120)
    assert applied.returncode == 0, applied.stderr[-2000:]
    hosts = lab.spec.lab_hosts()
    deadline = time.monotonic() + 60
    while True:
        cp = orc("reconcile", cwd=project, timeout=120)
        assert cp.returncode == 1, cp.stdout + cp.stderr[-2000:]
        for i in range(len(broken)):
            for h in hosts:
                line = f'{h.name}: Service "b{i}" (annotation orc.io/haproxy-template): '
                assert line in cp.stderr, f"b{i} ({broken[i]!r}) on {h.name} not said: {cp.stderr[-1000:]}"
        served = {h.name: _answers(h.address, 30195) for h in hosts}
        if all(v == "good" for v in served.values()) or time.monotonic() > deadline:
            break
    assert served == {h.name: "good" for h in hosts}, "the good service is not served on every host"
    for h in hosts:
        for cfg in h.proxy_dir.glob("*.cfg"):
            text = cfg.read_text()
            assert "note:" not in text and MARKER not in text, f"{cfg}: a hostile value reached the config"
    strays = [ln[:120] for ln in cp.stderr.split("\n")[:-1] if not ln.isprintable()
              or not ln.startswith((*(f"{h.name}: " for h in hosts), "error"))]
    assert strays == [], "a value broke or disguised an error line"
