"""The docker-label contract: every `orc.*` label our containers and volumes carry, in one place.

The hosts are the truth about what runs: a snapshot is rebuilt from these labels alone, so the names below
are an interface between every version of orc that ever touched a host. Change a name only with a reader
for the old one.

    orc.managed=true        on every container and volume we create
    orc.cluster=NAME        the cluster (orc.yaml `cluster:`) that made it: a pass works on its own only
    orc.pod=NAME            the pod's name               orc.pod-uid=UID     the pod instance (unique)
    orc.owner=KIND/NAME     its controller's store key, rc/NAME, rs/NAME or deploy/NAME ("" for a bare pod);
                            an older orc wrote rc/NAME for every kind: controllers/moved_keys.py reads those
    orc.spec-hash=HASH      the template it was made from
    orc.container=NAME      the spec container ("" on the infra container)
    orc.infra=true          the infra container (holds the network namespace, publishes the ports)
    orc.infra=self          the one container of a solo pod (commands/pod.py `solo`): it is the pod's
                            app container and carries what an infra container would ("infra only" below)
    orc.containers=A,B      the app containers the pod should have (infra only)
    orc.requests=JSON       what it was placed with: cpu millis, memory bytes, ... (infra only)
    orc.host-ports=P/PROTO  explicit hostPorts (infra only)
    orc.grace=SECONDS       its terminationGracePeriodSeconds (infra only)
    orc.gpus=ID,ID          the GPU devices it was given (infra only)
    orc.probe=liveness|readiness|startup   what the container's docker health check stands for
    orc.startup=true        its health check runs a startupProbe first (see commands/pod.py `_health`)
    orc.pre-stop=JSON       its lifecycle.preStop hook: {"exec": [ARGV]} or {"sleep": SECONDS}
    orc.init=INDEX          an init container (0, 1, ...: the order it runs in)
    orc.init-containers=A,B the init containers the pod should have, in order (infra only)
    orc.port-names, orc.http-check  what services need (see proxy/pod_labels.py)
    orc.label.KEY=VALUE     the pod's own labels
"""

from __future__ import annotations

MANAGED = "orc.managed"
CLUSTER = "orc.cluster"
POD = "orc.pod"
POD_UID = "orc.pod-uid"
OWNER = "orc.owner"
SPEC_HASH = "orc.spec-hash"
CONTAINER = "orc.container"
INFRA = "orc.infra"
INFRA_SELF = "self"  # orc.infra of a solo pod's one container
CONTAINERS = "orc.containers"
REQUESTS = "orc.requests"
HOST_PORTS = "orc.host-ports"
GRACE = "orc.grace"
GPUS = "orc.gpus"
PROBE = "orc.probe"
STARTUP = "orc.startup"
PRE_STOP = "orc.pre-stop"
INIT = "orc.init"
INIT_CONTAINERS = "orc.init-containers"

STARTUP_FAILED = "orc: startup probe failed"
"""What a container's health check prints while its startupProbe fails (with orc.startup=true): the
observer tells a failed startup (restart) from a failed readiness check (no restart) by it."""
PORT_NAMES = "orc.port-names"
HTTP_CHECK = "orc.http-check"
LABEL_PREFIX = "orc.label."
