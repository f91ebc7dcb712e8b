"""paramiko, imported without `invoke` (paramiko.config imports it, and it imports asyncio and unittest.mock:
about 70 ms of every `orc` process), which paramiko needs only to run ssh_config's `Match exec`. A config
that has a `Match ... exec` line gets it back: `load_ssh_config` calls `enable_match_exec` first, so such
configs are honoured as before. Every module of ours imports paramiko from here."""

from __future__ import annotations

import sys

_blocked = "invoke" not in sys.modules
if _blocked:
    sys.modules["invoke"] = None  # type: ignore[assignment]  # `import invoke` raises ImportError: skipped
try:
    import paramiko as paramiko
    import paramiko.config as _config
finally:
    if _blocked and sys.modules.get("invoke", 0) is None:
        del sys.modules["invoke"]  # a later `import invoke` (ours, or anyone's) works


def enable_match_exec() -> None:
    """Give paramiko's ssh_config reader `invoke` back, for `Match exec` (import it now)."""
    if getattr(_config, "invoke", None) is None:
        import invoke

        _config.invoke = invoke  # type: ignore[attr-defined]
