"""Which hosts take no new pods (cordoned): their running pods stay, the scheduler places nothing there."""

from __future__ import annotations

from collections.abc import Iterable

from orchestrator.inventory.host import Host


def cordoned_hosts(hosts: Iterable[Host], recorded: Iterable[str] = ()) -> frozenset[str]:
    """The planner's cordon set, from both sources: hosts the inventory cordons (`orc_cordoned: true`) and
    `recorded`, hosts cordoned by a command and kept in the store's bookkeeping."""
    return frozenset(h.name for h in hosts if h.cordoned) | frozenset(recorded)
