"""Fixtures shared by unit tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from orchestrator.config import load_project
from orchestrator.store import Store, open_store


@pytest.fixture
def store(project: Path) -> Iterator[Store]:
    """The store of the test module's `project` (a folder `orc init` made the working directory)."""
    s = open_store(load_project().store_url)
    yield s
    s.close()
