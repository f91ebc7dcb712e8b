"""Dataclasses' generated methods and typing's string annotations are compiled once and kept for the next
`orc` process (`orchestrator/cli/generated_code.py`): the classes behave exactly as Python's own, the second
process compiles nothing, and a file anyone else could have written, or a damaged one, is never loaded. Each run is
a fresh interpreter with its own XDG_CACHE_HOME under tmp_path."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

# A class of every kind of method dataclasses writes: defaults, a factory, a keyword-named field, frozen
# (its own __setattr__/__delattr__ and __hash__), order, kw_only, an InitVar, __post_init__.
CLASSES = """
import dataclasses, json, sys, typing
from dataclasses import InitVar, dataclass, field

@dataclass(frozen=True, order=True)
class Point:
    x: int
    y: int = 2
    tags: tuple = field(default_factory=tuple)
    def_: str = "d"

@dataclass
class Box:
    items: list = field(default_factory=list)
    scale: InitVar[int] = 1
    total: int = field(init=False, default=0)
    def __post_init__(self, scale):
        self.total = len(self.items) * scale

@dataclass(kw_only=True)
class Named:
    name: str
    size: int = 0

class Hinted:  # string annotations: typing.ForwardRef compiles each
    a: "int | None"
    b: "list[Point]"
    c: "dict[str, Box]"

p, q = Point(1), Point(1, 3, ("a",))
try:
    p.x = 5
    frozen = "assigned"
except dataclasses.FrozenInstanceError:
    frozen = "refused"
try:
    Named("positional")
    kw = "accepted"
except TypeError as e:
    kw = "refused"
behaviour = {
    "repr": [repr(p), repr(q), repr(Box([1, 2], 3)), repr(Named(name="n"))],
    "eq": [p == Point(1), p == q, Box([1]) == Box([1])],
    "order": [p < q, sorted([q, p]) == [p, q]],
    "hash": hash(p) == hash(Point(1)),
    "frozen": frozen, "kw_only": kw,
    "total": Box([1, 2], 3).total,
    "hints": {k: str(v) for k, v in typing.get_type_hints(Hinted).items()},
    "annotations": {c.__name__: {k: str(v) for k, v in c.__init__.__annotations__.items()}
                    for c in (Point, Box, Named)},
    "files": sorted({f.__code__.co_filename for c in (Point, Box, Named) for f in vars(c).values()
                     if hasattr(f, "__code__") and f.__code__.co_filename == "<string>"}),
}
"""

RUN = """
import builtins, sys
compiled = []
real = builtins.compile
def counting(source, *a, **k):
    if isinstance(source, str):
        compiled.append(1)
    return real(source, *a, **k)
builtins.compile = counting
from orchestrator.cli import generated_code
table = generated_code.install() if sys.argv[1] == "cached" else None
""" + CLASSES + """
if table is not None:
    table.save()
behaviour["compiled"] = len(compiled)
behaviour["loaded"] = 0 if table is None else len(table.known)
print(json.dumps(behaviour))
"""


def _run(tmp_path: Path, mode: str) -> dict:
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "cache")}
    proc = subprocess.run([sys.executable, "-c", RUN, mode], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def _file(tmp_path: Path) -> Path:
    files = list((tmp_path / "cache" / "orc").glob("generated-code-*.marshal"))
    assert len(files) == 1, files
    return files[0]


def _same(a: dict, b: dict) -> bool:
    keys = set(a) - {"compiled", "loaded"}
    return {k: a[k] for k in keys} == {k: b[k] for k in keys}


def test_classes_behave_as_pythons_own_and_the_second_process_compiles_nothing(tmp_path: Path) -> None:
    plain = _run(tmp_path, "plain")
    first = _run(tmp_path, "cached")
    second = _run(tmp_path, "cached")
    assert plain["frozen"] == "refused" and plain["kw_only"] == "refused" and plain["total"] == 6
    assert _same(first, plain) and _same(second, plain)
    assert plain["hints"] == {"a": "int | None", "b": "list[__main__.Point]", "c": "dict[str, __main__.Box]"}
    assert first["compiled"] >= 13  # every generated method of the three classes and 3 annotations, kept
    assert second["loaded"] >= first["compiled"] and second["compiled"] == 0
    assert plain["files"] == ["<string>"]  # tracebacks name the generated code as Python does
    mode = _file(tmp_path).stat().st_mode
    assert mode & 0o777 == 0o600 and _file(tmp_path).parent.stat().st_mode & 0o777 == 0o700


@pytest.mark.parametrize("spoil", ["group-writable", "damaged", "symlink"])
def test_a_file_it_cannot_trust_or_read_is_ignored(tmp_path: Path, spoil: str) -> None:
    _run(tmp_path, "cached")
    path = _file(tmp_path)
    if spoil == "group-writable":
        path.chmod(0o620)
    elif spoil == "damaged":
        path.write_bytes(path.read_bytes()[:100])
    else:
        real = path.with_name("elsewhere")
        path.rename(real)
        path.symlink_to(real)
    out = _run(tmp_path, "cached")
    assert out["loaded"] == 0 and out["compiled"] >= 10
    assert _same(out, _run(tmp_path, "plain"))


def test_a_home_it_cannot_write_costs_only_the_compilation(tmp_path: Path) -> None:
    (tmp_path / "cache").write_text("a file where the folder would go")
    out = _run(tmp_path, "cached")
    assert out["compiled"] >= 10 and _same(out, _run(tmp_path, "plain"))


def test_the_orc_process_keeps_its_dataclasses_code(tmp_path: Path) -> None:
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "cache")}
    proc = subprocess.run([sys.executable, "-m", "orchestrator.cli.main", "plan", "--help"], cwd=tmp_path,
                          env=env, capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr
    assert _file(tmp_path).stat().st_size > 1000
