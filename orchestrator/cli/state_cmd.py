"""The kubectl-like commands on the desired state: apply, get, describe, delete, scale. Thin: parsing and
printing here; the work is in applier, selection, printers, describe and view."""

from __future__ import annotations

import copy
import time
from typing import TYPE_CHECKING, Any

import click

from orchestrator.cli.completers import complete_targets
from orchestrator.cli.context import AppContext
from orchestrator.cli.get_cmd import get, snapshot_note
from orchestrator.cli.kinds import display_name, kind_of_key, plural_name
from orchestrator.cli.kubectl_options import dry_run_option, namespace_options
from orchestrator.cli.selection import not_found_message, parse_selector, parse_targets, select
from orchestrator.errors import ConflictError, NotFoundError, ValidationError

if TYPE_CHECKING:
    from orchestrator.cli.kinds import Resource
    from orchestrator.cli.view import ClusterView

__all__ = ["apply", "delete", "describe", "get", "scale"]


_DRY_NOTE = {"none": "", "client": " (dry run)", "server": " (server dry run)"}  # as kubectl words it


def _fail_invalid(e: ValidationError, what: str) -> None:
    for line in e.errors:
        click.echo(line, err=True)
    n = len(e.errors)
    click.echo(f"error: {n} problem{'s' if n != 1 else ''} found; {what}", err=True)
    click.get_current_context().exit(1)


@click.command()
@click.option(
    "-f",
    "--filename",
    "filenames",
    multiple=True,
    required=True,
    metavar="PATH",
    help="A manifest file, a folder (read recursively: *.yaml, *.yml, *.json) or - for stdin. "
    "Repeat for more.",
)
@dry_run_option("the diff against the store")
@namespace_options()
@click.pass_obj
def apply(obj: AppContext, filenames: tuple[str, ...], dry_run: str, namespace: str | None) -> None:
    """Record the desired state from Kubernetes v1 manifests (Pod, ReplicationController, ReplicaSet,
    Deployment, Service, PodDisruptionBudget, ConfigMap, Secret: a Secret's values go to the project's
    .orc/secret-values.json, mode 0600, never the store). Every document is validated first and every problem is listed at once; if
    there is any, nothing is stored (exit 1). Otherwise all objects are stored in one transaction.

    Applying is safe against concurrent changes: if another process changed an object after it was
    read here, the whole apply fails with a conflict instead of overwriting. A manifest carrying
    metadata.resourceVersion (as `orc get -o yaml` prints it) must match the stored revision.

    Pods start, stop and move on the next `orc reconcile`.

    \b
    Examples:
      orc apply -f manifests/                 # every manifest in the folder
      orc apply -f web-rc.yaml -f web-svc.yaml
      cat web.yaml | orc apply -f -
      orc apply -f manifests/ --dry-run       # what would change, as a diff
      orc get rc web -o yaml > web.yaml; $EDITOR web.yaml; orc apply -f web.yaml
    """
    from orchestrator.cli.applier import allocation_ops, commit_apply, plan_apply
    from orchestrator.cli.diff import manifest_diff
    from orchestrator.cli.services import move_legacy_workloads
    from orchestrator.model import Service
    from orchestrator.model.load import read_located
    from orchestrator.model.objects import Namespace
    from orchestrator.model.warnings import manifest_warnings
    from orchestrator.proxy.addresses import node_port_range
    from orchestrator.proxy.node_port_claims import claim_ops, node_port_errors
    from orchestrator.secrets import SecretSource, missing_refs
    from orchestrator.store import cluster_ops

    located, errors = read_located(list(filenames))
    namespaces = [o for o, _ in located if isinstance(o, Namespace)]  # `default` only: it always exists
    located = [(o, where) for o, where in located if not isinstance(o, Namespace)]
    objects = [o for o, _ in located]
    from orchestrator.cli.config_apply import folder_clashes, immutable_errors, with_secret_values
    from orchestrator.model.config import Secret
    from orchestrator.secret_store import SecretValues

    folder = SecretSource.load(obj.project.secrets_path)
    errors += folder_clashes(objects, folder)
    services = [o for o in objects if isinstance(o, Service)]
    ports = node_port_range(obj.project.settings.proxy)
    if not objects and not errors and not namespaces:
        raise ValidationError([f"no objects passed to apply: {', '.join(filenames)} holds no manifests"])
    with obj.project.open_store() as store:
        applied = {o.name for o in objects if isinstance(o, Secret)} | \
            {r.key.partition("/")[2] for r in store.list(Secret.KEY_PREFIX + "/")}
        errors += missing_refs(objects, folder, applied)
        errors += node_port_errors(store, services, ports, {o.key: where for o, where in located})
        claims = claim_ops(store, services) if not errors else []
        allocations, problems = allocation_ops(store, services, obj.project.settings.proxy, claims) \
            if not errors else ([], [])
        errors += problems
        if errors:
            _fail_invalid(ValidationError(errors), "nothing was applied")
            return
        if dry_run == "none":
            move_legacy_workloads(store)
        values = SecretValues(obj.project.secret_values_path)
        changes = with_secret_values(plan_apply(store, objects), values)
        if immutable_errors(changes):
            _fail_invalid(ValidationError(immutable_errors(changes)), "nothing was applied")
            return
        for line in manifest_warnings(objects):
            click.echo(f"Warning: {line}", err=True)
        if dry_run != "none":
            for ns in namespaces:
                click.echo(f"namespace/{ns.name} unchanged (dry run)")
            for c in changes:
                before = c.before.value if c.before else None
                text = manifest_diff(
                    c.key, before, c.after, f"stored, revision {c.before.revision}" if c.before else "stored"
                )
                if text:
                    click.echo(text, nl=False)
                click.echo(f"{c.ref} {c.action}{_DRY_NOTE[dry_run]}")
            return
        secrets_changed = any(isinstance(c.obj, Secret) and c.action != "unchanged" for c in changes)
        if secrets_changed:  # the values first: a Secret the store names always has them
            values.save()
        try:
            commit_apply(store, changes, time.time(),
                         [*claims, *allocations, *cluster_ops(store, obj.project.settings.cluster)])
        except BaseException:
            if secrets_changed:  # nothing was applied: the stored Secrets keep the values they name
                values.restore()
            raise
    for ns in namespaces:
        click.echo(f"namespace/{ns.name} unchanged")
    for c in changes:
        click.echo(f"{c.ref} {c.action}")


@click.command()
@click.argument("args", nargs=-1, metavar="KIND [NAME...] | KIND/NAME...", shell_complete=complete_targets)
@click.option("-l", "--selector", help="Describe every object of KIND matching this label selector.")
@namespace_options(all_namespaces=True)
@click.pass_obj
def describe(obj: AppContext, args: tuple[str, ...], selector: str | None, namespace: str | None,
             all_namespaces: bool) -> None:
    """Show one object in detail: labels, selector, replicas, the pod template's containers (image, ports,
    resources, probes, environment: secret values are never shown, only where they come from), the pods
    observed for it (host, status) and its events. Without NAME, every object of KIND.

    \b
    Examples:
      orc describe rc web
      orc describe pod web-7x2kq           # where it runs, its status and containers
      orc describe svc/web                 # cluster IP, ports, node ports, endpoints
      orc describe nodes lab1
      orc describe pods -l app=web
    """
    from orchestrator.cli.describe import describe as describe_text
    from orchestrator.cli.view import read_view

    targets = parse_targets(args, "describe")
    sel = parse_selector(selector)
    with obj.project.open_store() as store:
        view = read_view(store)
    if any(t.resource.plural == "secrets" for t in targets):
        from orchestrator.secret_store import SecretValues

        view.secret_values = SecretValues(obj.project.secret_values_path)
    now = time.time()
    note = snapshot_note(view, targets, now)
    if note:
        click.echo(note, err=True)
    groups, errors = select(targets, view, now, sel)
    texts = [describe_text(t.resource, i.name, view, now) for t, found in groups for i in found]
    click.echo("\n\n".join(t.rstrip("\n") for t in texts) + ("\n" if texts else ""), nl=False)
    if not texts and not errors:
        click.echo("No resources found in default namespace.", err=True)
    for line in errors:
        click.echo(line, err=True)
    if errors:
        click.get_current_context().exit(1)


def _manifest_refs(filenames: tuple[str, ...]) -> list[tuple[str, str, str]]:
    """(kind, name, store key) of every document in the manifests, for `delete -f`."""
    from orchestrator.model import KINDS, load_documents

    try:
        docs = load_documents(list(filenames))
    except ValidationError as e:
        _fail_invalid(e, "nothing was deleted")
        return []
    refs: list[tuple[str, str, str]] = []
    errors: list[str] = []
    for i, doc in enumerate(docs):
        kind = doc.get("kind") if isinstance(doc, dict) else None
        meta = doc.get("metadata") if isinstance(doc, dict) else None
        name = meta.get("name") if isinstance(meta, dict) else None
        where = getattr(doc, "origin", f"document {i + 1}")
        if kind == "Namespace" and name == "default":
            continue  # it always exists: nothing to delete
        if kind not in KINDS:
            errors.append(f"{where}: kind {kind!r} is not one of {', '.join(sorted(KINDS))}")
        elif not isinstance(name, str) or not name:
            errors.append(f"{where}: {kind} has no metadata.name")
        else:
            refs.append((str(kind), name, f"{KINDS[str(kind)].KEY_PREFIX}/{name}"))
    if errors:
        _fail_invalid(ValidationError(errors), "nothing was deleted")
    return refs


def _delete_refs(
    args: tuple[str, ...], filenames: tuple[str, ...], selector: str | None, all_: bool, view: ClusterView
) -> list[tuple[str, str, str]]:
    if filenames:
        if args or selector or all_:
            raise click.UsageError(
                "give either -f PATH or KIND NAME / KIND/NAME / KIND -l SELECTOR, not both"
            )
        return _manifest_refs(filenames)
    targets = parse_targets(args, "delete")
    sel = parse_selector(selector)
    refs: list[tuple[str, str, str]] = []
    for t in targets:
        res = t.resource
        if not res.stored:
            raise click.UsageError(
                f"{res.plural} are observed, not desired objects: "
                + ("remove the host from the inventory" if res.plural == "nodes" else
                   "events expire by themselves after an hour" if res.plural == "events" else "delete the service")
            )
        if t.names:
            if sel is not None:
                raise click.UsageError("name cannot be provided when a selector is specified")
            refs += [(res.kind, n, res.key(n)) for n in t.names]
        elif sel is not None or all_:
            for record in view.of_prefix(res.prefix):
                kind = kind_of_key(record.key, record.value)
                labels = (record.value.get("metadata") or {}).get("labels") or {}
                if kind == res.kind and (sel is None or sel.matches(labels)):
                    refs.append((kind, record.key.partition("/")[2], record.key))
        else:
            raise click.UsageError(
                f"resource(s) were provided, but no name was specified: give NAME, -l SELECTOR or --all "
                f"(e.g. `orc delete {res.singular} NAME`)"
            )
    return refs


def _owned_hint(view: ClusterView, kind: str, name: str) -> str:
    pod = view.snapshot.pod(name) if view.snapshot and kind == "Pod" else None
    if pod is None or not pod.owner:
        return ""
    owner = view.objects.get(pod.owner)
    ref = f"{display_name(kind_of_key(pod.owner, owner.value if owner else None))}/{pod.owner.partition('/')[2]}"
    return f" (the pod is managed by {ref}: change its replicas with `orc scale {ref} --replicas N`)"


@click.command()
@click.argument(
    "args",
    nargs=-1,
    metavar="[KIND NAME... | KIND/NAME... | KIND -l SELECTOR]",
    shell_complete=complete_targets,
)
@click.option(
    "-f",
    "--filename",
    "filenames",
    multiple=True,
    metavar="PATH",
    help="Delete the objects the manifests in PATH define (file, folder or -).",
)
@click.option("-l", "--selector", help="Delete every object of KIND matching this label selector.")
@click.option("--all", "all_", is_flag=True, help="Delete every object of KIND.")
@click.option("--ignore-not-found", is_flag=True, help="Objects that do not exist are not an error.")
@dry_run_option("what would be deleted")
@namespace_options()
@click.pass_obj
def delete(
    obj: AppContext,
    args: tuple[str, ...],
    filenames: tuple[str, ...],
    selector: str | None,
    all_: bool,
    ignore_not_found: bool,
    dry_run: str,
    namespace: str | None,
) -> None:
    """Remove objects from the desired state. The next `orc reconcile` stops their pods and updates the
    proxies. All deletions are one transaction: if an object changed meanwhile, nothing is deleted.

    \b
    Examples:
      orc delete -f manifests/web-svc.yaml
      orc delete rc/web svc/web
      orc delete rc web
      orc delete pods -l app=web,tier=fe
      orc delete svc --all
      orc delete rc web --ignore-not-found   # exit 0 if it is already gone
      orc delete pods -l app=web --dry-run   # what would be deleted; nothing is
    """
    from orchestrator.cli.applier import conflict_error, delete_ops
    from orchestrator.cli.services import move_legacy_workloads
    from orchestrator.cli.view import created_key, read_view
    from orchestrator.store import Delete, Op

    with obj.project.open_store() as store:
        if dry_run == "none":
            move_legacy_workloads(store)
        view = read_view(store)
        refs = _delete_refs(args, filenames, selector, all_, view)
        ops: list[Op] = []
        done: list[tuple[str, str, str]] = []
        missing: list[str] = []
        for kind, name, key in dict.fromkeys(refs):
            record = view.objects.get(key)
            if record is None:
                if not ignore_not_found:
                    missing.append(
                        f'Error from server (NotFound): {plural_name(kind)} "{name}" not found'
                        + _owned_hint(view, kind, name)
                    )
                continue
            ops += delete_ops(key, record.revision, time.time()) if not key.startswith(("cm/", "secret/")) \
                else [Delete(key, expect_revision=record.revision), Delete(created_key(key))]
            done.append((kind_of_key(key, record.value), name, key))
        if ops and dry_run == "none":
            try:
                store.txn(ops)
            except ConflictError as e:
                lost = next((d for d in done if d[2] == getattr(e, "key", None)), done[0])
                raise conflict_error(lost[0], lost[1], "changed while deleting; nothing was deleted") from e
            if any(key.startswith("secret/") for _, _, key in done):  # its values go with it
                from orchestrator.secret_store import SecretValues

                values = SecretValues(obj.project.secret_values_path)
                for _, name, key in done:
                    if key.startswith("secret/"):
                        values.remove(name)
                values.save()
    from orchestrator.controllers.moved_keys import own_key

    for kind, name, key in done:
        older = own_key(key, {"kind": kind})  # an older orc's copy that could not move (see moved_keys.py)
        click.echo(f'{display_name(kind)} "{name}" deleted' + (f" (the older copy under {key})" if older else "")
                   + _DRY_NOTE[dry_run])
    if not done and not missing and not filenames and (selector or all_):
        click.echo("No resources found", err=True)
    for line in missing:
        click.echo(line, err=True)
    if missing:
        click.get_current_context().exit(1)


def _scaled(value: dict[str, Any], replicas: int) -> dict[str, Any]:
    new = copy.deepcopy(value)
    new.setdefault("spec", {})["replicas"] = replicas
    return new


@click.command()
@click.argument(
    "args", nargs=-1, required=True, metavar="KIND/NAME... | KIND NAME...", shell_complete=complete_targets
)
@click.option("--replicas", type=click.IntRange(min=0), required=True, help="The new number of replicas.")
@click.option(
    "--current-replicas",
    type=click.IntRange(min=0),
    help="Precondition: scale only if the desired replicas are this now.",
)
@click.option("--resource-version", help="Precondition: scale only if the object is at this revision.")
@dry_run_option("what would be scaled (the preconditions checked)")
@namespace_options()
@click.pass_obj
def scale(
    obj: AppContext,
    args: tuple[str, ...],
    replicas: int,
    current_replicas: int | None,
    resource_version: str | None,
    dry_run: str,
    namespace: str | None,
) -> None:
    """Set the number of replicas of replication controllers, replica sets or deployments (each kind is
    its own object: `rc/web` and `deploy/web` are two). The change is compare-and-swap on the revision
    read, so a concurrent edit fails instead of being lost. The next `orc reconcile` starts or stops pods.

    \b
    Examples:
      orc scale rc/web --replicas 5
      orc scale deploy/web --replicas 3                    # the Deployment web, not the RC web
      orc scale rc web --replicas 0                        # stop every pod, keep the definition
      orc scale rc/web --replicas 3 --current-replicas 2   # only if it is at 2 now
    """
    from orchestrator.cli.applier import conflict_error
    from orchestrator.cli.kinds import WORKLOADS
    from orchestrator.cli.services import move_legacy_workloads
    from orchestrator.store import Put

    targets = parse_targets(args, "scale")
    wanted: dict[str, Resource] = {}  # store key -> the resource named
    for t in targets:
        if t.resource.plural not in WORKLOADS:
            raise click.UsageError(
                f"cannot scale {t.resource.plural}: only replicationcontrollers (rc), replicasets (rs) and "
                "deployments (deploy) have replicas"
            )
        if not t.names:
            raise click.UsageError(f"give the name to scale, e.g. `orc scale {t.resource.singular}/web`")
        wanted.update({t.resource.key(n): t.resource for n in t.names})
    with obj.project.open_store() as store:
        if dry_run == "none":
            move_legacy_workloads(store)
        puts: list[Put] = []
        for key, resource in wanted.items():
            record = store.get(key)
            name = key.partition("/")[2]
            if record is None:
                raise NotFoundError(not_found_message(resource, name))
            kind = kind_of_key(key, record.value)
            current = (record.value.get("spec") or {}).get("replicas")
            current = 1 if current is None else current
            if current_replicas is not None and current != current_replicas:
                raise ConflictError(
                    f"Expected replicas to be {current_replicas}, was {current} ({display_name(kind)}/{name}); "
                    "nothing was scaled"
                )
            if resource_version is not None and resource_version != str(record.revision):
                raise conflict_error(
                    kind,
                    name,
                    f"resourceVersion {resource_version} was given, the stored one is {record.revision}",
                )
            puts.append(Put(key, _scaled(record.value, replicas), expect_revision=record.revision))
        try:
            if dry_run == "none":
                store.txn(puts)
        except ConflictError as e:
            lost = next((p for p in puts if p.key == getattr(e, "key", None)), puts[0])
            raise conflict_error(
                kind_of_key(lost.key, lost.value),
                lost.key.partition("/")[2],
                "changed while scaling; nothing was scaled",
            ) from e
    for put in puts:
        click.echo(f"{display_name(kind_of_key(put.key, put.value))}/{put.key.partition('/')[2]} scaled"
                   + _DRY_NOTE[dry_run])
