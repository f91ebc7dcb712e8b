"""securityContext, at pod and container level, as far as docker can honour it: the user and group a
container runs as (`--user`), runAsNonRoot (checked against the image when the pod is created), extra groups
(fsGroup, supplementalGroups: `--group-add`), a read-only root filesystem (`--read-only`),
allowPrivilegeEscalation: false (`no-new-privileges`), capabilities (`--cap-add`/`--cap-drop`), privileged
and the seccomp profile (RuntimeDefault is docker's default; Unconfined). Anything else is refused by name."""

from __future__ import annotations

import re

from orchestrator.model.fields import FieldErrors, K8sModel, OneOf, invalid, required

_CAPABILITY_RE = re.compile(r"(CAP_)?[A-Z][A-Z0-9_]*")


def _id_errors(path: str, value: int | None) -> FieldErrors:
    if value is not None and not 0 <= value <= 2**31 - 1:
        return [(path, invalid(value, "must be between 0 and 2147483647, inclusive"))]
    return []


class SeccompProfile(K8sModel):
    type: OneOf("RuntimeDefault", "Unconfined")  # type: ignore[valid-type]


class Capabilities(K8sModel):
    add: list[str] | None = None
    drop: list[str] | None = None

    def check(self) -> FieldErrors:
        errors: FieldErrors = []
        for part in ("add", "drop"):
            for i, cap in enumerate(getattr(self, part) or []):
                if not _CAPABILITY_RE.fullmatch(cap):
                    errors.append((f"{part}[{i}]", invalid(cap, "must be a capability name such as NET_ADMIN or ALL")))
        return errors


class _Identity(K8sModel):
    run_as_user: int | None = None
    run_as_group: int | None = None
    run_as_non_root: bool | None = None
    seccomp_profile: SeccompProfile | None = None

    def check(self) -> FieldErrors:
        errors = _id_errors("runAsUser", self.run_as_user) + _id_errors("runAsGroup", self.run_as_group)
        if self.run_as_non_root and self.run_as_user == 0:
            errors.append(("runAsNonRoot", invalid(True, "may not be true when runAsUser is 0 (root)")))
        return errors


class PodSecurityContext(_Identity):
    fs_group: int | None = None
    supplemental_groups: list[int] | None = None

    def check(self) -> FieldErrors:
        errors = super().check() + _id_errors("fsGroup", self.fs_group)
        for i, g in enumerate(self.supplemental_groups or []):
            errors += _id_errors(f"supplementalGroups[{i}]", g)
        return errors


class SecurityContext(_Identity):
    read_only_root_filesystem: bool | None = None
    allow_privilege_escalation: bool | None = None
    capabilities: Capabilities | None = None
    privileged: bool | None = None

    def check(self) -> FieldErrors:
        errors = super().check()
        if self.privileged and self.allow_privilege_escalation is False:
            errors.append(("allowPrivilegeEscalation",
                           invalid(False, "cannot set `allowPrivilegeEscalation` to false and `privileged` to true")))
        return errors


def effective(pod: PodSecurityContext | None, container: SecurityContext | None) -> tuple[int | None, int | None, bool]:
    """(runAsUser, runAsGroup, runAsNonRoot) of a container: its own, else the pod's."""
    def pick(name: str) -> object:
        for ctx in (container, pod):
            value = getattr(ctx, name, None) if ctx is not None else None
            if value is not None:
                return value
        return None

    user, group, non_root = pick("run_as_user"), pick("run_as_group"), pick("run_as_non_root")
    return (user if isinstance(user, int) else None, group if isinstance(group, int) else None, bool(non_root))


def identity_errors(pod: PodSecurityContext | None, container: SecurityContext | None, path: str) -> FieldErrors:
    """docker sets a user and a group together: a group alone cannot be given."""
    user, group, _ = effective(pod, container)
    if group is not None and user is None:
        return [(f"{path}.runAsGroup", required("runAsUser, with runAsGroup (docker's --user sets both; orc does "
                                                "not read the image's user)"))]
    return []


def docker_flags(pod: PodSecurityContext | None, container: SecurityContext | None) -> list[str]:
    """The `docker run` options that make it so (each value joined to its option with '=')."""
    out: list[str] = []
    user, group, _ = effective(pod, container)
    if user is not None:
        out.append(f"--user={user}" + (f":{group}" if group is not None else ""))
    groups = [*([pod.fs_group] if pod and pod.fs_group is not None else []), *((pod.supplemental_groups or []) if pod else [])]
    out += [f"--group-add={g}" for g in dict.fromkeys(groups)]
    seccomp = (container.seccomp_profile if container and container.seccomp_profile else None) or \
        (pod.seccomp_profile if pod else None)
    if seccomp is not None and seccomp.type == "Unconfined":
        out.append("--security-opt=seccomp=unconfined")
    if container is None:
        return out
    if container.privileged:
        out.append("--privileged")
    if container.read_only_root_filesystem:
        out.append("--read-only")
    if container.allow_privilege_escalation is False:
        out.append("--security-opt=no-new-privileges")
    caps = container.capabilities
    out += [f"--cap-add={c}" for c in (caps.add or [] if caps else [])]
    out += [f"--cap-drop={c}" for c in (caps.drop or [] if caps else [])]
    return out
