"""What the CLI tests share: running `orc` in-process, and a fresh project made by `orc init`."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from orchestrator.cli.main import cli


def orc(*args: str, input: str | None = None) -> Result:
    return CliRunner().invoke(cli, list(args), input=input)


def init_project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, apply_examples: bool = False) -> Path:
    """`orc init` in an empty folder made the working directory (no ORC_* variables in play)."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("ORC_CONFIG", raising=False)
    monkeypatch.delenv("ORC_INVENTORY", raising=False)
    result = orc("init")
    assert result.exit_code == 0, result.output
    if apply_examples:
        assert orc("apply", "-f", "manifests/").exit_code == 0
    return tmp_path


def as_foreground_job() -> None:
    """`preexec_fn` of a CLI subprocess a test ends with SIGINT, as Ctrl-C ends a terminal's foreground job:
    SIGINT back to its default. A shell's background job (`cmd &` without job control, e.g. a suite started
    with `nohup ./test.sh &`) inherits SIGINT ignored, and an ignored SIGINT would never reach the watch."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
