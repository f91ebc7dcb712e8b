"""One shape for a pod the planner counts, whether seen on its host now or assumed from the last pass."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from orchestrator.observe.snapshot import ObservedPod


@dataclass(frozen=True)
class PodView:
    name: str
    uid: str
    host: str
    owner: str | None
    spec_hash: str
    labels: dict[str, str]
    phase: str
    ready: bool
    requests: dict[str, int] = field(default_factory=dict)
    host_ports: tuple[tuple[int, str], ...] = ()
    started_at: float | None = None
    seen: bool = True  # observed on its host this pass (False: assumed, its host cannot be seen now)
    grace: int | None = None  # terminationGracePeriodSeconds it was started with
    gpu_devices: tuple[str, ...] = ()  # the GPU devices it was given
    ready_at: float | None = None  # since when it is ready, when its containers tell (no readiness check)

    @classmethod
    def of(cls, p: ObservedPod) -> PodView:
        return cls(p.name, p.uid, p.host, p.owner, p.spec_hash, dict(p.labels), p.phase, p.ready,
                   p.requests, tuple(p.host_ports), p.started_at, grace=p.grace, gpu_devices=p.gpu_devices,
                   ready_at=p.ready_at)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> PodView:
        ports = []
        for item in d.get("host_ports", []):
            port, _, proto = str(item).partition("/")
            ports.append((int(port), proto or "TCP"))
        return cls(d["name"], d["uid"], d["host"], d.get("owner"), d.get("spec_hash", ""),
                   dict(d.get("labels", {})), d.get("phase", "Unknown"), bool(d.get("ready")),
                   dict(d.get("requests", {})), tuple(ports), d.get("started_at"), seen=False,
                   grace=d.get("grace"), gpu_devices=tuple(str(x) for x in d.get("gpu_devices") or ()))

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "uid": self.uid, "host": self.host, "owner": self.owner,
                "spec_hash": self.spec_hash, "labels": self.labels, "phase": self.phase, "ready": self.ready,
                "requests": self.requests, "host_ports": [f"{p}/{proto}" for p, proto in self.host_ports],
                "started_at": self.started_at, "grace": self.grace,
                "gpu_devices": list(self.gpu_devices)}
