"""`orc init [DIR]`: scaffold a project (orc.yaml, inventory/, templates/, manifests/) from the files in
`orchestrator/scaffold/`."""

from __future__ import annotations

from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path

import click

from orchestrator.errors import ConfigError

SCAFFOLD_PACKAGE = "orchestrator.scaffold"
_SKIP = ("__init__.py", "__pycache__")


def scaffold_files() -> dict[str, str]:
    """Relative path -> text of every file `orc init` writes, sorted by path."""
    out: dict[str, str] = {}

    def walk(node: Traversable, prefix: str) -> None:
        for child in node.iterdir():
            if child.name in _SKIP or child.name.endswith(".pyc"):
                continue
            rel = f"{prefix}{child.name}"
            if child.is_dir():
                walk(child, rel + "/")
            else:
                out[rel] = child.read_text(encoding="utf-8")

    walk(resources.files(SCAFFOLD_PACKAGE), "")
    return dict(sorted(out.items()))


def write_scaffold(target: Path, force: bool = False) -> list[str]:
    """Write the scaffold into `target` (created if needed); the relative paths written. Refuses, writing
    nothing, when any of them exists, unless `force`."""
    files = scaffold_files()
    if target.exists() and not target.is_dir():
        raise ConfigError(
            f"orc init: {target} exists and is not a folder: give a folder to create the project in"
        )
    existing = [rel for rel in files if (target / rel).exists()]
    if existing and not force:
        raise ConfigError(
            f"orc init: {target.resolve()} already has {', '.join(existing)}: nothing was written; move "
            "them away, or pass --force to overwrite them"
        )
    for rel, text in files.items():
        if rel == "orc.yaml":
            text = text.replace("cluster: CLUSTER_NAME", f"cluster: {new_cluster_name(target)}")
        path = target / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return list(files)


def new_cluster_name(target: Path) -> str:
    """The folder's name as a DNS label, plus a random suffix: two `orc init`s never name the same cluster."""
    import re
    import secrets

    from orchestrator.config import CLUSTER_NAME_MAX

    alphabet = "bcdfghjklmnpqrstvwxz2456789"
    suffix = "".join(secrets.choice(alphabet) for _ in range(6))
    base = re.sub(r"[^a-z0-9-]+", "-", target.resolve().name.lower()).strip("-")
    base = base[: CLUSTER_NAME_MAX - len(suffix) - 1].strip("-") or "orc"
    if not base[0].isalpha():
        base = "c" + base[: CLUSTER_NAME_MAX - len(suffix) - 2]
    return f"{base}-{suffix}"


@click.command()
@click.argument("directory", default=".", type=click.Path(file_okay=False, path_type=Path))
@click.option("--force", is_flag=True, help="Overwrite files that already exist.")
def init(directory: Path, force: bool) -> None:
    """Create a project in DIRECTORY (default: here): orc.yaml with every setting explained, an example
    Ansible inventory, templates/, and manifests/ with a working example (a replication controller of two
    httpd pods and a NodePort service in front of them).

    Existing files are never overwritten unless --force is given; then nothing else is touched.

    \b
    Examples:
      # A new project in ./demo, then a local test cluster and the example app
      orc init demo && cd demo
      orc lab up
      orc apply -f manifests/
      orc reconcile
      orc get pods -o wide
    \b
      # Re-create the example files in the current project
      orc init --force
    """
    written = write_scaffold(directory, force)
    where = directory.resolve()
    click.echo(f"Initialized an orc project in {where}:")
    for rel in written:
        click.echo(f"  {rel}")
    hint = "" if directory == Path(".") else f"cd {directory}\n  "
    click.echo(
        "Next:\n"
        f"  {hint}orc lab up                  # a local 3-host test cluster (or list your hosts in inventory/)\n"
        "  orc apply -f manifests/     # record the desired state\n"
        "  orc reconcile               # start the pods and the service proxy\n"
        "  orc get pods -o wide"
    )
