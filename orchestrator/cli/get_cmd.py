"""`orc get`: desired objects joined with the observed snapshot, as kubectl tables, names, JSON or YAML;
`-w` then follows the store and prints each change as it happens (whoever made it)."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import click

from orchestrator.cli.columns import (
    OutputFormat,
    check_fields,
    column_cells,
    field_filter,
    label_cells,
    label_headers,
    labels_cell,
    parse_field_selector,
    parse_output,
    parse_sort_by,
    sort_key,
    split_label_columns,
)
from orchestrator.cli.completers import complete_targets
from orchestrator.cli.context import AppContext
from orchestrator.cli.documents import NAMESPACE
from orchestrator.cli.kubectl_options import namespace_options
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


@dataclass
class TableOptions:
    """Columns kubectl adds to a table: NAMESPACE (-A), LABELS (--show-labels), one per -L key."""

    no_headers: bool = False
    show_labels: bool = False
    label_columns: list[str] = field(default_factory=list)
    all_namespaces: bool = False

    def headers(self, headers: list[str]) -> list[str]:
        extra = [*label_headers(self.label_columns), *(["LABELS"] if self.show_labels else [])]
        return [*(["NAMESPACE"] if self.all_namespaces else []), *headers, *extra]

    def cells(self, item: Item, cells: list[str]) -> list[str]:
        extra = [*label_cells(item.labels, self.label_columns), *([labels_cell(item.labels)] if self.show_labels else [])]
        return [*([NAMESPACE] if self.all_namespaces else []), *cells, *extra]


class Printer:
    """Prints the first listing, then (for -w) the rows of items that changed since."""

    def __init__(self, output: OutputFormat | str | None, several: bool, table: TableOptions | None = None):
        self.format = output if isinstance(output, OutputFormat) else parse_output(output)
        self.output = self.format.kind
        self.wide = self.output == "wide"
        self.several = several
        self.table = table or TableOptions()
        self.widths: dict[str, list[int]] = {}
        self.qualified: dict[str, bool] = {}

    def _lines(self, headers: list[str], rows: list[list[str]], key: str) -> None:
        self.widths[key] = widths_of(headers, rows)
        for line in [*([] if self.table.no_headers else [headers]), *rows]:
            click.echo(format_row(line, self.widths[key]))

    def listing(self, groups: list[tuple[Target, list[Item]]], single: bool, revision: int) -> None:
        if self.output in ("json", "yaml"):
            dump(document(groups, single, revision), self.output)
            return
        if self.output == "jsonpath":
            assert self.format.template is not None
            click.echo(self.format.template.render(document(groups, single, revision)), nl=False)
            return
        if self.output == "custom-columns":  # one table over every kind, as kubectl prints it
            headers = [h for h, _ in self.format.columns]
            rows = [column_cells(self.format.columns, i.doc) for _, found in groups for i in found]
            if rows:
                self._lines(headers, rows, "")
            else:
                self.widths[""] = widths_of(headers, rows)
            return
        first = True
        for target, found in groups:
            res = target.resource
            self.qualified[res.plural] = needs_qualified_names(res, found, self.several)
            if self.output == "name":
                for item in found:
                    click.echo(item.ref)
                continue
            headers = self.table.headers(headers_for(res, self.wide))
            rows = [self.table.cells(i, row(i, self.wide, self.qualified[res.plural])) for i in found]
            self.widths[res.plural] = widths_of(headers, rows)
            if not found:
                continue
            if not first:
                click.echo()
            first = False
            self._lines(headers, rows, res.plural)

    def change(self, target: Target, item: Item, deleted: bool) -> None:
        res = target.resource
        if self.output in ("json", "yaml"):
            if self.output == "yaml":
                click.echo("---")
            dump(item.doc, self.output)
            return
        if self.output == "jsonpath":
            assert self.format.template is not None
            click.echo(self.format.template.render(item.doc), nl=False)
            return
        if self.output == "name":
            click.echo(item.ref)
            return
        if self.output == "custom-columns":
            cells = column_cells(self.format.columns, item.doc)
            widths = self.widths.get("") or widths_of([h for h, _ in self.format.columns], [cells])
        else:
            qualified = self.qualified.get(res.plural, False) or item.kind != res.kind
            cells = self.table.cells(item, row(item, self.wide, qualified))
            widths = self.widths.get(res.plural) or widths_of(self.table.headers(headers_for(res, self.wide)), [cells])
        line = format_row(cells, widths)
        click.echo(f"{line}   (deleted)" if deleted else line)


def signature(target: Target, item: Item) -> tuple[Any, ...]:
    """What a watch compares: the document and the cells, less AGE (which changes by itself)."""
    cols = HEADERS[target.resource.plural][0]
    cells = tuple(c.split(" (")[0] if h == "RESTARTS" else c  # "4 (5s ago)" ages by itself too
                  for c, h in zip(item.cells, cols, strict=False) if h not in ("AGE", "LAST SEEN"))
    return (item.doc, cells, tuple(item.wide) if item.kind != "Event" else ())


def follow(
    store: Store,
    records: dict[str, Record],
    start: int,
    targets: list[Target],
    selector: Selector | None,
    printer: Printer,
    previous: dict[tuple[str, str], tuple[Target, Item]],
    timeout: float | None = None,
    refine: Refine | None = None,
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
        if refine is not None:
            groups = refine(groups)
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


Refine = Callable[[list[tuple[Target, list[Item]]]], list[tuple[Target, list[Item]]]]


def refiner(targets: list[Target], field_selector: str | None, sort_by: str | None) -> Refine:
    """--field-selector and --sort-by over the selected items (checked before anything is read)."""
    requirements = parse_field_selector(field_selector)
    for t in targets:
        check_fields(t.resource.plural, requirements)
    keep = field_filter(requirements)
    order = parse_sort_by(sort_by)
    key = sort_key(order) if order is not None else None

    def refine(groups: list[tuple[Target, list[Item]]]) -> list[tuple[Target, list[Item]]]:
        out = []
        for target, found in groups:
            items = [i for i in found if keep(i)]
            out.append((target, sorted(items, key=key) if key is not None else items))
        return out

    return refine


@click.command()
@click.argument("args", nargs=-1, metavar="KIND [NAME...] | KIND/NAME...", shell_complete=complete_targets)
@click.option("-l", "--selector", help="Label selector, e.g. 'app=web,tier in (fe,be),!canary'.")
@click.option("--field-selector", metavar="SELECTOR",
              help="Select by fields, e.g. 'status.phase=Running,spec.nodeName!=lab1' (=, ==, !=): "
              "metadata.name and metadata.namespace for every kind; pods also spec.nodeName, status.phase, "
              "status.podIP, status.hostIP, spec.restartPolicy, spec.schedulerName, spec.serviceAccountName.")
@click.option(
    "-o",
    "--output",
    metavar="FORMAT",
    help="wide (more columns); json or yaml (the objects as Kubernetes' API returns them); name "
    "(kind/name); jsonpath=TEMPLATE or jsonpath-file=FILE (kubectl's JSONPath, with range/end); "
    "custom-columns=HEADER:PATH,... or custom-columns-file=FILE.",
)
@click.option("--no-headers", is_flag=True, help="Print tables (and custom columns) without their header line.")
@click.option("--show-labels", is_flag=True, help="Add a LABELS column with every label of each object.")
@click.option("-L", "--label-columns", multiple=True, metavar="KEY[,KEY...]",
              help="Add a column with the value of each of these labels (repeatable).")
@click.option("--sort-by", metavar="PATH", help="Sort by a JSONPath field, e.g. .metadata.creationTimestamp "
              "or '{.status.containerStatuses[0].restartCount}'.")
@click.option(
    "-w", "--watch", is_flag=True, help="After listing, print each change as it happens (Ctrl-C ends)."
)
@namespace_options(all_namespaces=True)
@click.pass_obj
def get(
    obj: AppContext,
    args: tuple[str, ...],
    selector: str | None,
    field_selector: str | None,
    output: str | None,
    no_headers: bool,
    show_labels: bool,
    label_columns: tuple[str, ...],
    sort_by: str | None,
    watch: bool,
    namespace: str | None,
    all_namespaces: bool,
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
      orc get svc web -o json | jq -r .spec.clusterIP
      orc get pods -o jsonpath='{range .items[*]}{.metadata.name} {.status.hostIP}{"\\n"}{end}'
      orc get pods -o custom-columns=NAME:.metadata.name,NODE:.spec.nodeName --no-headers
      orc get pods --field-selector status.phase=Running,spec.nodeName=lab1 --sort-by .metadata.name
      orc get pods -L app --show-labels

    Observed state (pod status, replica counts, nodes) comes from the last `orc reconcile`; when it is
    older than a minute, its age is printed on stderr. orc has one namespace, `default`: `-n default` and
    `-A` are accepted, as scripts written for kubectl pass them.
    """

    targets = parse_targets(args, "get")
    sel = parse_selector(selector)
    if sel is not None and any(t.names for t in targets):
        raise click.UsageError("name cannot be provided when a selector is specified")
    fmt = parse_output(output)
    refine = refiner(targets, field_selector, sort_by)
    table = TableOptions(no_headers, show_labels, split_label_columns(label_columns), all_namespaces)
    several = len(targets) > 1
    with obj.project.open_store() as store:
        listed = store.list("")
        records = {r.key: r for r in listed}
        view = ClusterView.from_records(listed, listed.revision)
        if any(t.resource.plural == "secrets" for t in targets):
            from orchestrator.secret_store import SecretValues

            view.secret_values = SecretValues(obj.project.secret_values_path)
        now = time.time()
        note = snapshot_note(view, targets, now)
        if note:
            click.echo(note, err=True)
        groups, errors = select(targets, view, now, sel)
        groups = refine(groups)
        printer = Printer(fmt, several, table)
        single = len(targets) == 1 and len(targets[0].names) == 1
        found_any = any(found for _, found in groups)
        if not fmt.document or found_any or not errors:
            printer.listing(groups, single, view.revision)  # also remembers column widths for -w
        if not found_any and not errors and not fmt.document:
            click.echo("No resources found in default namespace.", err=True)
        for line in errors:
            click.echo(line, err=True)
        if watch:
            previous = {(t.resource.plural, i.name): (t, i) for t, found in groups for i in found}
            try:
                follow(store, records, listed.revision + 1, targets, sel, printer, previous, refine=refine)
            except KeyboardInterrupt:
                return
        if errors:
            click.get_current_context().exit(1)
