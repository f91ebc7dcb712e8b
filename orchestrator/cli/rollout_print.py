"""What `orc rollout history` prints, as kubectl prints it: the revision table, or one revision's pod template."""

from __future__ import annotations

from orchestrator.cli.describe import Text, _map_lines, describe_containers, describe_volumes
from orchestrator.controllers.revisions import Revision, Revisions


def history_table(ref: str, revisions: Revisions) -> str:
    """`deployment.apps/web` and the table REVISION / CHANGE-CAUSE, oldest first."""
    rows = [(str(r.number), r.cause or "<none>") for r in revisions.items]
    width = max([len("REVISION"), *(len(n) for n, _ in rows)]) + 2
    lines = [ref, "REVISION".ljust(width) + "CHANGE-CAUSE", *(n.ljust(width) + c for n, c in rows)]
    return "\n".join(lines) + "\n"


def template_text(template: dict) -> str:  # type: ignore[type-arg]
    """A pod template as `kubectl describe` shows it (labels, annotations, containers, volumes)."""
    out = Text()
    out.line("Pod Template:")
    meta = template.get("metadata") or {}
    out.block([("Labels", _map_lines(meta.get("labels")))], 2)
    if meta.get("annotations"):
        out.block([("Annotations", _map_lines(meta.get("annotations")))], 2)
    spec = template.get("spec") or {}
    describe_containers(out, list(spec.get("containers") or []), 2)
    describe_volumes(out, spec, 2)
    return str(out)


def revision_text(ref: str, revision: Revision) -> str:
    """`deployment.apps/web with revision #2` and its pod template."""
    return f"{ref} with revision #{revision.number}\n" + template_text(revision.template)
