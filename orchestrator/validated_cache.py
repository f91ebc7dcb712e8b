"""What was validated once is not validated again: the objects a validation built from some input (the
stored manifests, orc.yaml's settings), kept in a file of the project's `.orc/cache/` and reused while both
the input and orc's own code are the same.

A cron pass so skips pydantic: the package's models are built on first use (`defer_build`), and a no-op
pass, which reads the same manifests as the pass before it, uses none (tests/unit/test_noop_imports.py
checks it). The key is content, not time: a digest of the input (as JSON, keys sorted) and of orc's code
(every module's size and mtime under the package, Python's and pydantic's versions), so a changed manifest,
a store rebuilt elsewhere or an upgraded orc all validate afresh; nothing here can serve stale objects
for the input it is asked about.

The file is a pickle, which loading runs as code: it is written owner-only (0600, in a 0700 folder) and
read only when this user owns it and nobody else can write it; any other file, or one that fails to load,
is ignored (the input is validated as if there were no cache). Its trust is that of the store file beside
it and of orc.yaml, which already decide what runs. A write that fails (a read-only project folder) is
ignored too: the cache only saves time."""

from __future__ import annotations

import functools
import hashlib
import json
import os
import pickle
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from orchestrator.private_file import read_private, write_private

T = TypeVar("T")

FORMAT = "1"
_PACKAGE = Path(__file__).resolve().parent


def code_key(root: Path = _PACKAGE) -> str:
    """orc's code as far as it can change what a validation builds: every module's path, size and mtime
    (an edited or upgraded orc changes it), Python's version and pydantic's (pickles of models are theirs)."""
    h = hashlib.sha256(f"{FORMAT}\0{sys.version}\0{_pydantic_version()}".encode())
    stack = [str(root)]
    while stack:
        d = stack.pop()
        with os.scandir(d) as it:
            entries = sorted(it, key=lambda e: e.name)
        for e in entries:
            if e.is_dir(follow_symlinks=False):
                if e.name != "__pycache__":
                    stack.append(e.path)
            elif e.name.endswith(".py"):
                st = e.stat()
                h.update(f"{e.path}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    return h.hexdigest()


@functools.cache
def package_code_key() -> str:
    """`code_key()` of the installed package, computed once per process: the settings and the desired
    state are read through separate caches in one run, and the code does not change under a process."""
    return code_key()


def _pydantic_version() -> str:
    try:
        from pydantic_core import __version__  # light: pydantic itself is not imported for this
    except ImportError:  # pragma: no cover  (a dependency of orc)
        return "-"
    return str(__version__)


def input_key(value: Any) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True, separators=(",", ":"), default=repr,
                                     ensure_ascii=False).encode()).hexdigest()


class ValidatedCache:
    """One folder of cached validations (`.orc/cache`), one file per kind of input, each holding the last
    input's objects."""

    def __init__(self, folder: Path | None):
        self.folder = folder

    def get(self, kind: str, value: Any, build: Callable[[], T]) -> T:
        """`build()`'s result for `value`: from the cache when it holds this input under this code, else
        built (an error of `build` is raised as it is, nothing cached) and cached."""
        if self.folder is None:
            return build()
        key = f"{package_code_key()}:{input_key(value)}"
        path = self.folder / f"{kind}.pickle"
        found = _read(path, key)
        if found is not None:
            return found[0]  # type: ignore[no-any-return]
        result = build()
        _write(path, key, result)
        return result


def _read(path: Path, key: str) -> tuple[Any] | None:
    data = read_private(path)
    if data is None:
        return None
    try:
        entry = pickle.loads(data)
    except Exception:  # a file of another format or a half-written one: validate afresh
        return None
    if not isinstance(entry, dict) or entry.get("key") != key or "value" not in entry:
        return None
    return (entry["value"],)


def _write(path: Path, key: str, value: Any) -> None:
    try:
        data = pickle.dumps({"key": key, "value": value}, protocol=pickle.HIGHEST_PROTOCOL)
    except Exception:  # something that does not pickle is simply not cached
        return
    write_private(path, data)
