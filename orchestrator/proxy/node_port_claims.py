"""Node ports checked at `orc apply`: in the project's range (orc.yaml `proxy.node_port_range`), not asked
for twice in one apply, not held by another service, and claimed in the apply's own transaction (a
create-only write of the same `_meta/node-port/<port>` record the allocator uses, see proxy.addresses), so
two applies racing for one port cannot both win and `orc get svc` never shows a port the pass drops."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from orchestrator.model.fields import duplicate, invalid
from orchestrator.model.objects import Service
from orchestrator.store import Check, Op, Put, Record, keys


def _wanted(services: Sequence[Service]) -> list[tuple[Service, int, int, int]]:
    """(service, port index, service port, node port) for every node port a NodePort service names."""
    return [(s, i, sp.port, sp.node_port) for s in services if s.type == "NodePort"
            for i, sp in enumerate(s.spec.ports) if sp.node_port is not None]


def _stored_claims(store: Any, services: Sequence[Service]) -> dict[int, str]:
    """Node port -> the service holding it: allocation records, and stored NodePort services not applied
    now (their ports are theirs even before a pass allocated them)."""
    mine = {s.name for s in services}
    held = {int(r.key[len(keys.NODE_PORT):]): str(r.value.get("service", "?"))
            for r in store.list(keys.NODE_PORT)}
    for r in store.list("svc/"):
        spec = r.value.get("spec") or {}
        name = str((r.value.get("metadata") or {}).get("name", ""))
        if name in mine or spec.get("type") not in ("NodePort", "LoadBalancer"):
            continue
        for p in spec.get("ports") or []:
            if isinstance(p, dict) and isinstance(p.get("nodePort"), int):
                held.setdefault(p["nodePort"], name)
    return held


def node_port_errors(store: Any, services: Sequence[Service], ports: range,
                     origins: Mapping[str, str] | None = None) -> list[str]:
    """Every node port problem of these services, as kubectl words them; `origins` (object key -> the
    document it came from, `web.yaml#2`) starts each error with where the service is, as apply's others."""
    errors: list[str] = []
    held = _stored_claims(store, services)
    asked: dict[int, str] = {}
    origins = origins or {}
    for svc, i, _port, node_port in _wanted(services):
        origin = origins.get(svc.key)
        where = (f"{origin}: " if origin else "") + f'Service "{svc.name}" is invalid: spec.ports[{i}].nodePort: '
        if node_port not in ports:
            errors.append(where + invalid(node_port, "provided port is not in the valid range. The range of "
                                          f"valid ports is {ports.start}-{ports.stop - 1} "
                                          "(orc.yaml proxy.node_port_range)"))
            continue
        holder = held.get(node_port)
        if holder is not None and holder != svc.name:
            errors.append(where + invalid(node_port, f'provided port is already allocated (to Service '
                                          f'"{holder}"): pick another or omit it'))
        elif node_port in asked and asked[node_port] != svc.name:
            errors.append(where + duplicate(node_port) + f': Service "{asked[node_port]}" in this apply '
                          "asks for it too")
        asked.setdefault(node_port, svc.name)
    return errors


def claim_ops(store: Any, services: Sequence[Service]) -> list[Op]:
    """Ops that claim every named node port in the apply's transaction: create-only for a free one, a
    compare for one the service holds already (the write fails if anybody else took it meanwhile)."""
    ops: list[Op] = []
    for svc, _i, port, node_port in _wanted(services):
        key = keys.node_port_key(node_port)
        value = {"service": svc.name, "port": port}
        record: Record | None = store.get(key)
        if record is None:
            ops.append(Put(key, value, expect_revision=0))
        elif record.value != value:
            ops.append(Put(key, value, expect_revision=record.revision))
        else:
            ops.append(Check(key, record.revision))
    return ops
