"""The lab's network: a bridge in the root namespace and one network namespace per host on it."""

from __future__ import annotations

from orchestrator.lab import system
from orchestrator.lab.spec import LabHost, LabSpec


def forward_rule(spec: LabSpec) -> list[str]:
    return ["FORWARD", "-i", spec.bridge, "-o", spec.bridge, "-j", "ACCEPT"]


def netns_list() -> list[str]:
    out = system.run(["ip", "netns", "list"], check=False).stdout.decode()
    return [line.split()[0] for line in out.splitlines() if line.strip()]


def our_netns(spec: LabSpec) -> list[str]:
    p = spec.netns_prefix
    return [n for n in netns_list() if n.startswith(p) and n[len(p):].isdigit()]


def ensure_bridge(spec: LabSpec) -> None:
    br = spec.bridge
    if not system.ok(["ip", "link", "show", br]):
        system.run(["ip", "link", "add", br, "type", "bridge"])
    addrs = system.run(["ip", "-o", "-4", "addr", "show", "dev", br]).stdout.decode()
    if f"{spec.gateway}/24" not in addrs:
        system.run(["ip", "addr", "add", f"{spec.gateway}/24", "dev", br])
    system.run(["ip", "link", "set", br, "up"])
    # A Docker engine in the root namespace sets FORWARD to DROP, which silently drops bridged traffic
    # between the hosts: let the bridge forward to itself. Removed again by `down`.
    if not system.ok(["iptables", "-C", *forward_rule(spec)]):
        system.run(["iptables", "-I", *forward_rule(spec)])


def remove_bridge(spec: LabSpec) -> None:
    while system.ok(["iptables", "-C", *forward_rule(spec)]):
        system.run(["iptables", "-D", *forward_rule(spec)])
    if system.ok(["ip", "link", "show", spec.bridge]):
        system.run(["ip", "link", "del", spec.bridge])


def ensure_host_netns(spec: LabSpec, h: LabHost) -> None:
    if h.netns not in netns_list():
        system.run(["ip", "netns", "add", h.netns])
    nsexec = ["ip", "netns", "exec", h.netns]
    if not system.ok([*nsexec, "ip", "link", "show", "eth0"]):
        if system.ok(["ip", "link", "show", h.veth]):
            system.run(["ip", "link", "del", h.veth])
        system.run(["ip", "link", "add", h.veth, "type", "veth", "peer", "name", "eth0", "netns", h.netns])
    system.run(["ip", "link", "set", h.veth, "master", spec.bridge])
    system.run(["ip", "link", "set", h.veth, "up"])
    system.run([*nsexec, "ip", "link", "set", "lo", "up"])
    addrs = system.run([*nsexec, "ip", "-o", "-4", "addr", "show", "dev", "eth0"]).stdout.decode()
    if f"{h.address}/24" not in addrs:
        system.run([*nsexec, "ip", "addr", "add", f"{h.address}/24", "dev", "eth0"])
    system.run([*nsexec, "ip", "link", "set", "eth0", "up"])
    routes = system.run([*nsexec, "ip", "route", "show", "default"]).stdout.decode()
    if spec.gateway not in routes:
        system.run([*nsexec, "ip", "route", "replace", "default", "via", spec.gateway])


def remove_host_netns(h: LabHost) -> None:
    if h.netns in netns_list():
        system.run(["ip", "netns", "del", h.netns], check=False)
    if system.ok(["ip", "link", "show", h.veth]):
        system.run(["ip", "link", "del", h.veth], check=False)


def netns_pids(name: str) -> list[int]:
    out = system.run(["ip", "netns", "pids", name], check=False).stdout.decode()
    return [int(x) for x in out.split() if x.isdigit()]
