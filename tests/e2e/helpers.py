"""Run the real `orc` CLI in a subprocess, as a user would."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any


def orc(*args: str, cwd: Path, env: dict[str, str] | None = None, timeout: float = 120,
        input: str | None = None) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, **(env or {})}
    return subprocess.run([sys.executable, "-m", "orchestrator.cli.main", *args], cwd=cwd, env=full_env,
                          capture_output=True, text=True, timeout=timeout, input=input)


def orc_json(*args: str, cwd: Path, ok_codes: tuple[int, ...] = (0,), **kw: Any) -> Any:
    cp = orc(*args, "-o", "json", cwd=cwd, **kw)
    assert cp.returncode in ok_codes, f"orc {' '.join(args)} exited {cp.returncode}: {cp.stderr}"
    return json.loads(cp.stdout)


def quiet_pass(lab) -> str:  # type: ignore[no-untyped-def]
    """What a pass with nothing to do says of its round trips: none to any host."""
    return "round trips " + ", ".join(f"{h.name}=0" for h in lab.spec.lab_hosts())
