"""`orc get`: desired objects joined with the observed snapshot, as kubectl tables, names, JSON or YAML;
`-w` then follows the store and prints each change as it happens (whoever made it)."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import click

from orchestrator.cli.completers import complete_targets
from orchestrator.cli.context import AppContext
from orchestrator.cli.output import dump
from orchestrator.cli.printers import HEADERS, Item, headers_for, human_age, needs_qualified_names, row
from orchestrator.cli.selection import Target, parse_selector, parse_targets, select
from orchestrator.cli.view import ClusterView

if TYPE_CHECKING:
    from orchestrator.labels import Selector
    from orchestrator.store import Record, Store

STALE_AFTER = 60.0  # seconds: an older snapshot is flagged on stderr
OBSERVED = ("pods", "replicationcontrollers", "replicasets", "deployments", "nodes")


def snapshot_note(view: ClusterView, targets: list[Target], now: float) -> str | None:
    """The stderr line about the observed state's age, when the targets show observed state."""
    if not any(t.resource.plural in OBSERVED for t in targets):
        return None
    if view.snapshot is None:
        return "(no cluster snapshot yet: pod status and replica counts are unknown; run `orc reconcile`)"
    age = view.snapshot.age(now)
    if age > STALE_AFTER:
        return f"(observed {human_age(age)} ago; run `orc reconcile` to refresh)"
    return None


def format_row(cells: Sequence[str], widths: Sequence[int]) -> str:
    return "   ".join(c.ljust(w) for c, w in zip(cells, widths, strict=False)).rstrip()


def widths_of(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> list[int]:
    widths = [len(h) for h in headers]
    for r in rows:
        for i, cell in enumerate(r[: len(widths)]):
            widths[i] = max(widths[i], len(cell))
    return widths


def document(groups: list[tuple[Target, list[Item]]], single: bool, revision: int) -> dict[str, Any]:
    """One object's document when one name was asked for, else a `kind: List` of every item."""
    items = [i.doc for _, found in groups for i in found]
    if single and len(items) == 1:
        return items[0]
    return {
        "apiVersion": "v1",
        "kind": "List",
        "metadata": {"resourceVersion": str(revision)},
        "items": items,
    }


class Printer:
    """Prints the first listing, then (for -w) the rows of items that changed since."""

    def __init__(self, output: str | None, several: bool):
        self.output = output
        self.wide = output == "wide"
        self.several = several
        self.widths: dict[str, list[int]] = {}
        self.qualified: dict[str, bool] = {}

    def listing(self, groups: list[tuple[Target, list[Item]]], single: bool, revision: int) -> None:
        if self.output in ("json", "yaml"):
            dump(document(groups, single, revision), self.output)
            return
        first = True
        for target, found in groups:
            res = target.resource
            self.qualified[res.plural] = needs_qualified_names(res, found, self.several)
            if self.output == "name":
                for item in found:
                    click.echo(item.ref)
                continue
            headers = headers_for(res, self.wide)
            rows = [row(i, self.wide, self.qualified[res.plural]) for i in found]
            self.widths[res.plural] = widths_of(headers, rows)
            if not found:
                continue
            if not first:
                click.echo()
            first = False
            for line in [headers, *rows]:
                click.echo(format_row(line, self.widths[res.plural]))

    def change(self, target: Target, item: Item, deleted: bool) -> None:
        res = target.resource
        if self.output in ("json", "yaml"):
            if self.output == "yaml":
                click.echo("---")
            dump(item.doc, self.output)
            return
        qualified = self.qualified.get(res.plural, False) or item.kind != res.kind
        if self.output == "name":
            click.echo(item.ref)
            return
        cells = row(item, self.wide, qualified)
        widths = self.widths.get(res.plural) or widths_of(headers_for(res, self.wide), [cells])
        line = format_row(cells, widths)
        click.echo(f"{line}   (deleted)" if deleted else line)


def signature(target: Target, item: Item) -> tuple[Any, ...]:
    """What a watch compares: the document and the cells, less AGE (which changes by itself)."""
    cols = HEADERS[target.resource.plural][0]
    cells = tuple(c for c, h in zip(item.cells, cols, strict=False) if h != "AGE")
    return (item.doc, cells, tuple(item.wide))


def follow(
    store: Store,
    records: dict[str, Record],
    start: int,
    targets: list[Target],
    selector: Selector | None,
    printer: Printer,
    previous: dict[tuple[str, str], tuple[Target, Item]],
    timeout: float | None = None,
) -> None:
    """Print each change to the selected items from revision `start` on, until Ctrl-C (or `timeout`)."""
    seen = {k: signature(t, i) for k, (t, i) in previous.items()}
    for event in store.watch("", start_revision=start, timeout=timeout):
        if event.type == "PUT":
            records[event.record.key] = event.record
        else:
            records.pop(event.record.key, None)
        view = ClusterView.from_records(records.values(), event.record.revision)
        groups, _ = select(targets, view, time.time(), selector)
        current = {(t.resource.plural, i.name): (t, i) for t, found in groups for i in found}
        for key, (target, item) in current.items():
            sig = signature(target, item)
            if seen.get(key) != sig:
                printer.change(target, item, deleted=False)
                seen[key] = sig
        for key in [k for k in previous if k not in current]:
            target, item = previous[key]
            printer.change(target, item, deleted=True)
            seen.pop(key, None)
        previous = current


@click.command()
@click.argument("args", nargs=-1, metavar="KIND [NAME...] | KIND/NAME...", shell_complete=complete_targets)
@click.option("-l", "--selector", help="Label selector, e.g. 'app=web,tier in (fe,be),!canary'.")
@click.option(
    "-o",
    "--output",
    type=click.Choice(["wide", "json", "yaml", "name"]),
    help="wide (more columns), json or yaml (the stored manifest with resourceVersion and status), "
    "name (kind/name).",
)
@click.option(
    "-w", "--watch", is_flag=True, help="After listing, print each change as it happens (Ctrl-C ends)."
)
@click.pass_obj
def get(
    obj: AppContext, args: tuple[str, ...], selector: str | None, output: str | None, watch: bool
) -> None:
    """List objects: the desired state joined with the last observed snapshot.

    \b
    KIND is one of (kubectl's names):
      pods (pod, po)                     observed pods, and desired bare pods not placed yet
      replicationcontrollers (rc)        also replicasets (rs) and deployments (deploy)
      services (svc)   endpoints (ep)    nodes (no, hosts)    all (pods, workloads, services)

    \b
    Examples:
      orc get pods                       # NAME READY STATUS RESTARTS AGE
      orc get pods -o wide -l app=web    # also IP and NODE, only pods labelled app=web
      orc get rc web -o yaml > web.yaml  # edit, then `orc apply -f web.yaml` (refused if changed meanwhile)
      orc get rc,svc                     # several kinds at once
      orc get rc/web svc/web -o name
      orc get all
      orc get pods -w                    # keep printing changes (Ctrl-C to stop)

    Observed state (pod status, replica counts, nodes) comes from the last `orc reconcile`; when it is
    older than a minute, its age is printed on stderr.
    """

    targets = parse_targets(args, "get")
    sel = parse_selector(selector)
    if sel is not None and any(t.names for t in targets):
        raise click.UsageError("name cannot be provided when a selector is specified")
    several = len(targets) > 1
    with obj.project.open_store() as store:
        listed = store.list("")
        records = {r.key: r for r in listed}
        view = ClusterView.from_records(listed, listed.revision)
        now = time.time()
        note = snapshot_note(view, targets, now)
        if note:
            click.echo(note, err=True)
        groups, errors = select(targets, view, now, sel)
        printer = Printer(output, several)
        single = len(targets) == 1 and len(targets[0].names) == 1
        found_any = any(found for _, found in groups)
        if output not in ("json", "yaml") or found_any or not errors:
            printer.listing(groups, single, view.revision)  # also remembers column widths for -w
        if not found_any and not errors and output not in ("json", "yaml"):
            click.echo("No resources found in default namespace.", err=True)
        for line in errors:
            click.echo(line, err=True)
        if watch:
            previous = {(t.resource.plural, i.name): (t, i) for t, found in groups for i in found}
            try:
                follow(store, records, listed.revision + 1, targets, sel, printer, previous)
            except KeyboardInterrupt:
                return
        if errors:
            click.get_current_context().exit(1)
