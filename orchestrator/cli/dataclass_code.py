"""The methods `@dataclass` writes for each class, compiled once and kept for the next `orc` process.

For every dataclass, Python writes its `__init__`, `__repr__`, `__eq__`, `__hash__` (and a frozen class's
`__setattr__`/`__delattr__`) as source text, and compiles each with `exec`. A reconcile loads ~140
dataclasses (ours, pydantic's, annotated_types'): ~640 compilations, about 40 ms of a cron pass's CPU,
measured by importing the engine with and without this (`bench/reconcile.py` gives the whole-process
figure). The text is the same on every run for the same class, so `install` routes the `exec` of the
`dataclasses` module through a table from that text to its compiled code: loaded from one file when
`orc` starts, the texts it had not seen written back when it ends.

The classes come out as they would without it: the code is what `exec` would compile from the same text
(file name "<string>", the caller's `__future__` flags and no others), run in the same namespaces. Only the
compilation is skipped, so a class whose text changed (an edited or upgraded orc) compiles its new text,
and a text no class writes any more costs only its bytes in the file (at most MAX_ENTRIES are kept).

The file is `$XDG_CACHE_HOME/orc/dataclass-code-TAG.marshal` (default `~/.cache/orc/`), TAG a digest of the
Python build (its version, its bytecode's magic number, the dataclasses module's file), as marshal'd code is
only that build's. Loading it runs code, so it is read only when this user owns it and nobody else can
write it, and written owner-only (orchestrator/private_file.py); a missing, foreign or damaged file is
ignored, and so is a write that fails (a read-only home): each class then compiles as usual.
Only `main.run` (the real `orc` process) installs it; tests calling `main()` compile as Python does.
"""

from __future__ import annotations
import __future__

import atexit
import builtins
import dataclasses
import functools
import hashlib
import importlib.util
import marshal
import operator
import os
import sys
from pathlib import Path
from types import CodeType
from typing import Any

FORMAT = "1"
MAX_ENTRIES = 20_000
# The flags `exec` passes on from its caller to what it compiles (CPython's PyCF_MASK): every __future__
# feature's, but nested_scopes' (CO_NESTED, a code flag only) and generators' (none)
_FUTURE_FLAGS = functools.reduce(operator.or_, (getattr(__future__, n).compiler_flag for n in
                                                __future__.all_feature_names if n not in ("nested_scopes", "generators")))


def cache_path() -> Path | None:
    """Where this Python build's table is kept; None when there is no home to keep it in."""
    base = os.environ.get("XDG_CACHE_HOME", "")
    try:
        folder = Path(base) if os.path.isabs(base) else Path.home() / ".cache"
        st = os.stat(dataclasses.__file__)
    except (RuntimeError, KeyError, OSError):  # no HOME and no passwd entry; a Python without its sources
        return None
    build = f"{FORMAT}\0{sys.version}\0{importlib.util.MAGIC_NUMBER.hex()}\0{dataclasses.__file__}\0" \
            f"{st.st_size}\0{st.st_mtime_ns}"
    return folder / "orc" / f"dataclass-code-{hashlib.sha256(build.encode()).hexdigest()[:16]}.marshal"


class CodeTable:
    """Source text -> code object, as `exec` would compile it; `save` writes the table back when it grew."""

    def __init__(self, path: Path):
        from orchestrator.private_file import read_private

        self.path = path
        self.known: dict[str, Any] = {}
        self.used: set[str] = set()
        self.new: dict[str, CodeType] = {}
        data = read_private(path)
        if data is not None:
            try:
                table = marshal.loads(data)
            except (EOFError, ValueError, TypeError):  # damaged, or written by another build: compile afresh
                table = None
            if isinstance(table, dict):
                self.known = table

    def exec(self, source: Any, globals: dict[str, Any] | None = None, locals: Any = None, /) -> None:
        """`exec` as the `dataclasses` module calls it, with the compiled code of a text seen before."""
        caller = sys._getframe(1)
        if globals is None:  # not dataclasses' own way of calling it: as `exec` would run there
            builtins.exec(source, caller.f_globals, caller.f_locals if locals is None else locals)
            return
        if not isinstance(source, str):
            builtins.exec(source, globals, locals)
            return
        flags = caller.f_code.co_flags & _FUTURE_FLAGS
        key = f"{flags}:{source}"
        code = self.known.get(key)
        if type(code) is CodeType:
            self.used.add(key)
        else:
            code = self.new.get(key)
            if code is None:
                code = self.new[key] = compile(source, "<string>", "exec", flags, dont_inherit=True)
        builtins.exec(code, globals, locals)

    def save(self) -> None:
        if not self.new:
            return
        from orchestrator.private_file import write_private

        table = {**self.known, **self.new}
        if len(table) > MAX_ENTRIES:  # texts of classes long gone: keep only this run's
            table = {**{k: self.known[k] for k in self.used}, **self.new}
        write_private(self.path, marshal.dumps(table), parents=True)


def install() -> CodeTable | None:
    """Compile dataclasses' methods through the kept table from now on, and keep what is new at exit."""
    path = cache_path()
    if path is None:
        return None
    table = CodeTable(path)
    dataclasses.exec = table.exec  # type: ignore[attr-defined]  # found before the builtin by its functions
    atexit.register(table.save)
    return table
