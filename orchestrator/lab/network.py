"""The lab's network: a bridge in the root namespace and one network namespace per host on it."""

from __future__ import annotations

from orchestrator.lab import system
from orchestrator.lab.spec import BRIDGE, GATEWAY, NETNS_PREFIX, LabHost

FORWARD_RULE = ["FORWARD", "-i", BRIDGE, "-o", BRIDGE, "-j", "ACCEPT"]


def netns_list() -> list[str]:
    out = system.run(["ip", "netns", "list"], check=False).stdout.decode()
    return [line.split()[0] for line in out.splitlines() if line.strip()]


def our_netns() -> list[str]:
    return [n for n in netns_list() if n.startswith(NETNS_PREFIX) and n[len(NETNS_PREFIX):].isdigit()]


def ensure_bridge() -> None:
    if not system.ok(["ip", "link", "show", BRIDGE]):
        system.run(["ip", "link", "add", BRIDGE, "type", "bridge"])
    addrs = system.run(["ip", "-o", "-4", "addr", "show", "dev", BRIDGE]).stdout.decode()
    if f"{GATEWAY}/24" not in addrs:
        system.run(["ip", "addr", "add", f"{GATEWAY}/24", "dev", BRIDGE])
    system.run(["ip", "link", "set", BRIDGE, "up"])
    # A Docker engine in the root namespace sets FORWARD to DROP, which silently drops bridged traffic
    # between the hosts: let the bridge forward to itself. Removed again by `down`.
    if not system.ok(["iptables", "-C", *FORWARD_RULE]):
        system.run(["iptables", "-I", *FORWARD_RULE])


def remove_bridge() -> None:
    while system.ok(["iptables", "-C", *FORWARD_RULE]):
        system.run(["iptables", "-D", *FORWARD_RULE])
    if system.ok(["ip", "link", "show", BRIDGE]):
        system.run(["ip", "link", "del", BRIDGE])


def ensure_host_netns(h: LabHost) -> None:
    if h.netns not in netns_list():
        system.run(["ip", "netns", "add", h.netns])
    nsexec = ["ip", "netns", "exec", h.netns]
    if not system.ok([*nsexec, "ip", "link", "show", "eth0"]):
        if system.ok(["ip", "link", "show", h.veth]):
            system.run(["ip", "link", "del", h.veth])
        system.run(["ip", "link", "add", h.veth, "type", "veth", "peer", "name", "eth0", "netns", h.netns])
    system.run(["ip", "link", "set", h.veth, "master", BRIDGE])
    system.run(["ip", "link", "set", h.veth, "up"])
    system.run([*nsexec, "ip", "link", "set", "lo", "up"])
    addrs = system.run([*nsexec, "ip", "-o", "-4", "addr", "show", "dev", "eth0"]).stdout.decode()
    if f"{h.address}/24" not in addrs:
        system.run([*nsexec, "ip", "addr", "add", f"{h.address}/24", "dev", "eth0"])
    system.run([*nsexec, "ip", "link", "set", "eth0", "up"])
    routes = system.run([*nsexec, "ip", "route", "show", "default"]).stdout.decode()
    if GATEWAY not in routes:
        system.run([*nsexec, "ip", "route", "replace", "default", "via", GATEWAY])


def remove_host_netns(name: str) -> None:
    if name in netns_list():
        system.run(["ip", "netns", "del", name], check=False)
    idx = name[len(NETNS_PREFIX):]
    veth = f"orv{idx}"
    if system.ok(["ip", "link", "show", veth]):
        system.run(["ip", "link", "del", veth], check=False)


def netns_pids(name: str) -> list[int]:
    out = system.run(["ip", "netns", "pids", name], check=False).stdout.decode()
    return [int(x) for x in out.split() if x.isdigit()]
