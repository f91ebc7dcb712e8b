"""What `orc apply` accepts but says something about (kubectl's `Warning:` lines): fields that cannot mean
anything here, and a LoadBalancer service served as NodePort. Pure: objects in, lines out."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from orchestrator.model.objects import Pod, Service, Workload
from orchestrator.model.pod import PodSpec


def _pod_spec_warnings(where: str, spec: PodSpec, path: str) -> list[str]:
    out = []
    account = spec.service_account_name or spec.service_account
    if account and account != "default":
        out.append(f"{where}: {path}.serviceAccountName {account!r} is ignored: orc has no API for pods to "
                   "call, so no service account")
    if spec.automount_service_account_token:
        out.append(f"{where}: {path}.automountServiceAccountToken is ignored: there is no token to mount")
    if spec.image_pull_secrets:
        names = ", ".join(s.name for s in spec.image_pull_secrets)
        out.append(f"{where}: {path}.imagePullSecrets ({names}) is ignored: log the hosts in to the registry "
                   "(`docker login` on each) or copy the image with `orc image push`")
    return out


def manifest_warnings(objects: Iterable[Any]) -> list[str]:
    out: list[str] = []
    for o in objects:
        where = f'{o.kind} "{o.name}"'
        if isinstance(o, Pod):
            out += _pod_spec_warnings(where, o.spec, "spec")
        elif isinstance(o, Workload):
            out += _pod_spec_warnings(where, o.template.spec, "spec.template.spec")
        elif isinstance(o, Service) and o.spec.type == "LoadBalancer":
            out.append(f"{where}: type LoadBalancer is served as NodePort: orc has no load balancer to provision; "
                       "clients reach the service on its node port of every proxy host (EXTERNAL-IP stays "
                       "<pending>)")
    return out
