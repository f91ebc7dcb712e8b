"""Text a manifest may carry: every string of a document is checked before anything else reads it, so no
value is lost on its way to a container. A NUL byte cannot travel in a process argument, an environment
variable, a docker label or an env file (docker drops it from an argument and fails on it in the
environment), and a lone surrogate (`"\\ud800"` in YAML) is no UTF-8 at all: both are refused with the
field named. Every other character arrives byte-exact (see commands.pod for the route env values take)."""

from __future__ import annotations

import json
from typing import Any

from orchestrator.model.fields import FieldErrors, join

_SHOWN = 80


def shown(value: str) -> str:
    """A value as an error shows it: quoted, every control character and surrogate escaped, shortened."""
    text = json.dumps(value)  # ensure_ascii: printable on any terminal, whatever the value holds
    return text if len(text) <= _SHOWN else text[: _SHOWN - 4] + '..."'


def unencodable(value: str) -> str | None:
    """Why `value` cannot reach a container unchanged, or None when it can."""
    nul = value.find("\x00")
    if nul >= 0:
        return (f"must not contain a NUL byte (found at offset {nul}): no argument, environment variable, "
                "label or env file can carry one")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as e:
        return f"is not valid Unicode: a lone surrogate at offset {e.start} cannot be encoded as UTF-8"
    return None


def text_errors(data: Any, path: str = "") -> FieldErrors:
    """(path, body) for every string in `data` (keys included) that `unencodable` refuses."""
    errors: FieldErrors = []
    if isinstance(data, str):
        why = unencodable(data)
        if why:
            errors.append((path, f"Invalid value: {shown(data)}: {why}"))
    elif isinstance(data, dict):
        for k, v in data.items():
            sub = join(path, f"[{k}]" if isinstance(k, str) and not k.isidentifier() else str(k))
            if isinstance(k, str):
                why = unencodable(k)
                if why:
                    errors.append((path or "<root>", f"Invalid value: {shown(k)}: a key {why}"))
                    continue
            errors += text_errors(v, sub)
    elif isinstance(data, list):
        for i, v in enumerate(data):
            errors += text_errors(v, join(path, f"[{i}]"))
    return errors


# Docker's --env-file reader (opts/file.go) splits on "\n", drops a trailing "\r" (bufio.ScanLines) and
# refuses a line longer than bufio.MaxScanTokenSize (64 KiB); every other byte of a value passes through.
ENV_FILE_LINE_MAX = 64 * 1024 - 2


def env_file_safe(name: str, value: str) -> bool:
    """Whether `name=value` survives docker's env file unchanged (else it takes the CLI-environment
    route: see commands.pod.env_exports, which needs a shell-safe name)."""
    return "\n" not in value and "\r" not in value and len(f"{name}={value}".encode()) <= ENV_FILE_LINE_MAX
