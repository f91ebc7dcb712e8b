"""Run the real `orc` CLI in a subprocess, as a user would; what e2e files ask of the lab's docker."""

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


def make_tagged_images(lab, image: str, build: str) -> None:  # type: ignore[no-untyped-def]
    """`image.format(1)` and `image.format(2)` on every host: two images that differ in a file naming their
    tag, /tag (docker commit: two image ids; `docker import` of one tar under two names would give one)."""
    from orchestrator.lab import daemons

    for h in lab.spec.lab_hosts():
        for tag in ("1", "2"):
            name = f"{build}-{tag}"
            daemons.docker(h, "rm", "-f", name, check=False)
            daemons.docker(h, "run", "--name", name, "--network", "none", "local/busybox:1",
                           "sh", "-c", f"echo v{tag} > /tag")
            daemons.docker(h, "commit", name, image.format(tag))
            daemons.docker(h, "rm", "-f", name)
        ids = {daemons.docker(h, "image", "inspect", "-f", "{{.Id}}", image.format(t)).stdout for t in ("1", "2")}
        assert len(ids) == 2, "the two images must differ"


def app_containers(lab, owner: str) -> list[tuple[str, bool]]:  # type: ignore[no-untyped-def]
    """(image, ready) of every running app container of `owner` ("deploy/web") on the lab."""
    from orchestrator.lab import daemons

    out = []
    for h in lab.spec.lab_hosts():
        cp = daemons.docker(h, "ps", "--filter", f"label=orc.owner={owner}", "--format",
                            '{{.Image}}\t{{.Status}}\t{{.Label "orc.infra"}}', check=False)
        for line in cp.stdout.decode().splitlines():
            image, status, infra = (line.split("\t") + ["", ""])[:3]
            if infra != "true":
                out.append((image, "(healthy)" in status))
    return out
