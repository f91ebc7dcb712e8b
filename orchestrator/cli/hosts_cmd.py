"""`orc hosts`: probe every host, one round trip each, in parallel."""

from __future__ import annotations

import dataclasses
from typing import Any

import click

from orchestrator.cli.context import AppContext
from orchestrator.cli.output import dump, print_table
from orchestrator.errors import EXIT_PARTIAL


def _gib(n: int) -> str:
    return f"{n / 2**30:.1f}Gi" if n else "-"


def facts_dict(f: Any) -> dict[str, Any]:
    d = dataclasses.asdict(f)
    d["status"] = f.status
    d["images"] = sorted(f.images)
    d["pods"] = f.pod_names
    return d


@click.command()
@click.argument("pattern", required=False)
@click.option("-o", "--output", type=click.Choice(["table", "wide", "json", "yaml"]), default="table",
              help="table (default), wide (more columns), json or yaml (every fact).")
@click.pass_obj
def hosts(obj: AppContext, pattern: str | None, output: str) -> None:
    """Probe every host (or those an Ansible PATTERN picks, e.g. 'web:&rack1'): reachable or why not,
    CPU, memory, disk, GPUs, architecture, docker version, labels and managed containers.

    Exits 4 when some hosts are unreachable (the others are still shown)."""
    from orchestrator.cli.services import load_hosts, make_transport
    from orchestrator.observe.hosts import probe_all

    host_list = load_hosts(obj, pattern)
    transport = make_transport(obj)
    try:
        facts = probe_all(transport, host_list, max_workers=obj.project.settings.ssh.max_parallel)
    finally:
        transport.close()
    if output in ("json", "yaml"):
        dump([facts_dict(f) for f in facts], output)
    else:
        headers = ["NAME", "STATUS", "ADDRESS", "CPU", "MEMORY", "DISK-FREE", "GPUS", "PODS"]
        if output == "wide":
            headers += ["ARCH", "DISK", "DOCKER", "KERNEL", "LABELS"]
        headers.append("REASON")
        rows = []
        for f in facts:
            row = [f.name, f.status, f.address]
            if f.reachable:
                row += [str(f.capacity.get("cpu", f.cpus)), _mem(f), _gib(f.disk_free_bytes), str(len(f.gpus)),
                        str(len(f.pod_names))]
            else:
                row += ["-"] * 5
            if output == "wide":
                labels = ",".join(f"{k}={v}" for k, v in sorted(f.labels.items()))
                row += [f.arch or "-", f.disk_kind or "-", f.docker_version or "-", f.kernel or "-", labels or "-"]
            row.append(_reason(f))
            rows.append(row)
        print_table(headers, rows)
    if any(not f.reachable for f in facts):
        click.get_current_context().exit(EXIT_PARTIAL)


def _mem(f: Any) -> str:
    cap = f.capacity.get("memory")
    if cap and not str(cap).isdigit():
        return str(cap)
    return _gib(f.memory_bytes)


def _reason(f: Any) -> str:
    if not f.reachable:
        return f"{f.reason}: {f.error}" if f.error else str(f.reason)
    if not f.docker_version:
        return f"docker: {f.docker_error}"
    return ""
