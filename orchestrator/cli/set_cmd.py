"""`orc set image`: kubectl's `set image` on a Deployment or ReplicationController, written by compare-and-swap
(controllers/workload_edit.py); the image is validated as `orc apply` validates it."""

from __future__ import annotations

import click

from orchestrator.cli.context import AppContext
from orchestrator.cli.kubectl_options import dry_run_option


@click.group("set")
def set_() -> None:
    """Change a field of stored objects, as `kubectl set` does (then `orc reconcile` rolls it out)."""


def image_pairs(pairs: tuple[str, ...]) -> dict[str, str]:
    """CONTAINER=IMAGE arguments as a dict (`*` names every container); a usage error otherwise."""
    out: dict[str, str] = {}
    for p in pairs:
        name, sep, image = p.partition("=")
        if not sep or not name or not image:
            raise click.UsageError(f"{p!r} is not CONTAINER=IMAGE (e.g. web=nginx:1.27, or *=nginx:1.27 for every "
                                   "container)")
        if name in out:
            raise click.UsageError(f"container {name!r} is given twice")
        out[name] = image
    return out


@set_.command()
@click.argument("target", metavar="deploy/NAME | rc/NAME")
@click.argument("pairs", nargs=-1, required=True, metavar="CONTAINER=IMAGE...")
@dry_run_option("the result")
@click.pass_obj
def image(obj: AppContext, target: str, pairs: tuple[str, ...], dry_run: str) -> None:
    """Update the image of containers of a Deployment's or ReplicationController's pod template (`*` for
    every container). The image is validated as `orc apply` validates it, the write
    is compare-and-swap on the revision read (a concurrent change fails; nothing is written), and it is a new
    rollout revision: the next `orc reconcile` passes roll it out (`orc rollout status` follows it). Prints
    nothing when every image is already the one given.

    \b
    Examples:
      orc set image deploy/web web=nginx:1.27
      orc set image rc/web web=nginx:1.27 sidecar=busybox:1.36
      orc set image deploy/web '*=nginx:1.27'
    """
    from orchestrator.cli.rollout_cmd import rolling_target, run_edit, said
    from orchestrator.controllers.workload_edit import set_image

    images = image_pairs(pairs)
    _kind, key = rolling_target(target)
    said(run_edit(obj, key, lambda t, now: set_image(t, images, now), dry_run), dry_run)
