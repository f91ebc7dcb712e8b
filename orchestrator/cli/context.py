"""What every command receives: the project, loaded on first use, and the shared services built from it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from orchestrator.config import Project


@dataclass
class AppContext:
    config_path: str | None = None
    inventory_path: str | None = None
    verbose: int = 0
    _project: Any = field(default=None, repr=False)

    @property
    def project(self) -> Project:
        if self._project is None:
            from orchestrator.config import load_project

            self._project = load_project(self.config_path)
        return self._project

    def inventory_source(self) -> str:
        """-i wins, as in Ansible; else orc.yaml's inventory."""
        return self.inventory_path or str(self.project.inventory_path)
