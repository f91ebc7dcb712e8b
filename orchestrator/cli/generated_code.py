"""Code Python generates while modules load, compiled once and kept for the next `orc` process.

For every dataclass, Python writes its `__init__`, `__repr__`, `__eq__`, `__hash__` (and a frozen class's
`__setattr__`/`__delattr__`) as source text and compiles each with `exec`; for every string annotation a
pydantic model's fields have (`from __future__ import annotations`), `typing.ForwardRef` compiles it. A
reconcile loads ~140 dataclasses (ours, pydantic's, annotated_types') and 72 models: ~640 method texts and
~1,000 annotations, about 50 ms of a cron pass's CPU (importing the engine with and without this; the
whole-process figure is `bench/reconcile.py`'s). The texts are the same on every run, so `install` routes
the `exec` of the `dataclasses` module and the `compile` of the `typing` module through a table from text to
compiled code: loaded from one file when `orc` starts, the texts it had not seen written back when it ends.

What comes out is what Python makes without it: the code is what `exec` or `compile` would compile from
the same text (file name "<string>", the caller's `__future__` flags and no others), and it runs in the same
namespaces. Only the compilation is skipped, so a text that changed (an edited or upgraded orc) is simply
compiled, and a text no class writes any more costs only its bytes in the file (at most MAX_ENTRIES kept).

The file is `$XDG_CACHE_HOME/orc/generated-code-TAG.marshal` (default `~/.cache/orc/`), TAG a digest of the
Python build (its version, its bytecode's magic number, the dataclasses and typing modules' files), as
marshal'd code is only that build's. Loading it runs code, so it is read only when this user owns it and
nobody else can write it, and written owner-only (orchestrator/private_file.py); a missing, foreign or
damaged file is ignored, and so is a write that fails (a read-only home): the code is then compiled as usual.
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
import typing
from collections.abc import Callable
from pathlib import Path
from types import CodeType
from typing import Any

FORMAT = "2"
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
        modules = [(m.__file__, os.stat(m.__file__)) for m in (dataclasses, typing) if m.__file__]
    except (RuntimeError, KeyError, OSError):  # no HOME and no passwd entry; a Python without its sources
        return None
    build = "\0".join([FORMAT, sys.version, importlib.util.MAGIC_NUMBER.hex(),
                       *(f"{f}:{st.st_size}:{st.st_mtime_ns}" for f, st in modules)])
    return folder / "orc" / f"generated-code-{hashlib.sha256(build.encode()).hexdigest()[:16]}.marshal"


class CodeTable:
    """Maps "MODE:FLAGS:source text" to the code `exec` or `compile` would make of it; `save` writes the
    table back when it grew."""

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
        code = self._code(f"exec:{flags}:{source}",  # as `compile` keys it, below
                          lambda: compile(source, "<string>", "exec", flags, dont_inherit=True))
        builtins.exec(code, globals, locals)

    def compile(self, source: Any, filename: Any, mode: str, flags: int = 0, dont_inherit: bool = False,
                optimize: int = -1) -> CodeType:
        """`compile` as `typing` calls it for a string annotation (a ForwardRef), from the table when seen."""
        if not isinstance(source, str) or flags or dont_inherit or optimize != -1 or filename != "<string>":
            return builtins.compile(source, filename, mode, flags, dont_inherit, optimize)  # type: ignore[no-any-return]
        inherited = sys._getframe(1).f_code.co_flags & _FUTURE_FLAGS
        return self._code(f"{mode}:{inherited}:{source}",
                          lambda: builtins.compile(source, filename, mode, inherited, dont_inherit=True))

    def _code(self, key: str, make: Callable[[], CodeType]) -> CodeType:
        """The code kept for `key` (a hit marks it used), else `make()`'s, kept as new."""
        code = self.known.get(key)
        if type(code) is CodeType:
            self.used.add(key)
            return code
        code = self.new.get(key)
        if code is None:
            code = self.new[key] = make()
        return code

    def save(self) -> None:
        if not self.new:
            return
        from orchestrator.private_file import write_private

        table = {**self.known, **self.new}
        if len(table) > MAX_ENTRIES:  # texts of classes long gone: keep only this run's
            table = {**{k: self.known[k] for k in self.used}, **self.new}
        write_private(self.path, marshal.dumps(table), parents=True)


def install() -> CodeTable | None:
    """Compile dataclasses' methods and typing's string annotations through the kept table from now on, and
    keep what is new at exit."""
    path = cache_path()
    if path is None:
        return None
    table = CodeTable(path)
    dataclasses.exec = table.exec  # type: ignore[attr-defined]  # found before the builtin by its functions
    typing.compile = table.compile  # type: ignore[attr-defined]  # the same for typing.ForwardRef
    atexit.register(table.save)
    return table
