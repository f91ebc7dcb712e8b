"""Events of a pass: JSON lines for machines (`--events FILE`), one line per change for people."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import IO, Any


@dataclass
class EventLog:
    json_out: IO[str] | None = None
    records: list[dict[str, Any]] = field(default_factory=list)

    def emit(self, kind: str, **fields: Any) -> dict[str, Any]:
        event = {"time": round(time.time(), 3), "event": kind, **fields}
        self.records.append(event)
        if self.json_out is not None:
            self.json_out.write(json.dumps(event, sort_keys=False, default=str) + "\n")
            self.json_out.flush()
        return event


def human(event: dict[str, Any]) -> str:
    """`lab1: created pod/web-x2k4p (rc/web: 0/3 replicas)`; failures say why."""
    kind = event["event"]
    if kind == "action":
        done = {"create": "created", "delete": "deleted", "restart": "restarted", "remove": "removed",
                "copy": "copied", "update": "updated", "allocate": "allocated", "release": "released",
                "reassign": "reassigned"}.get(event["verb"], event["verb"])
        line = f"{event['host']}: {done} {event['target']} ({event['reason']})"
        if not event["ok"]:
            line = f"{event['host']}: FAILED to {event['verb']} {event['target']}: {event['error']}"
        return line
    if kind == "step":
        return f"{event['host']}: {event['step']}" + ("" if event["ok"] else f" FAILED: {event['error']}")
    if kind == "pending":
        return f"pending: {event['target']}: {event['reason']}"
    if kind == "error":
        return f"error: {event['message']}"
    if kind == "unreachable":
        return f"{event['host']}: unreachable ({event['reason']}): {event['error']}"
    return f"{kind}: {event.get('message', '')}"
