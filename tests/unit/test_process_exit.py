"""`orc` leaves without the interpreter's teardown, but keeps what anyone can observe of an exit: the code,
every byte written to stdout and stderr, atexit handlers, and waiting for non-daemon threads."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from orchestrator.cli.process_exit import exit_code


def _python(code: str, tmp_path: Path, stdout: int | None = subprocess.PIPE) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", code], cwd=tmp_path, stdout=stdout, stderr=subprocess.PIPE,
                          text=True, timeout=60, check=False)


def test_the_code_and_every_buffered_byte_of_stdout_and_stderr_arrive(tmp_path: Path) -> None:
    code = """
import sys
from orchestrator.cli.process_exit import exit_now
sys.stdout.write("x" * 200000)   # far more than a pipe or a TextIOWrapper buffers
sys.stderr.write("last words")
exit_now(3)
"""
    proc = _python(code, tmp_path)
    assert proc.returncode == 3
    assert proc.stdout == "x" * 200000
    assert proc.stderr == "last words"


def test_stdout_to_a_file_is_complete(tmp_path: Path) -> None:
    code = 'import sys\nfrom orchestrator.cli.process_exit import exit_now\nprint("line " * 5000)\nexit_now(0)'
    out = tmp_path / "out.txt"
    with out.open("w") as f:
        proc = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, stdout=f, timeout=60, check=False)
    assert proc.returncode == 0
    assert out.read_text() == "line " * 5000 + "\n"


def test_atexit_handlers_run_last_registered_first(tmp_path: Path) -> None:
    code = """
import atexit, logging
from orchestrator.cli.process_exit import exit_now
logging.basicConfig(filename="log.txt", level=logging.INFO)
logging.info("logged before exit")
atexit.register(lambda: print("first registered"))
atexit.register(lambda: print("last registered"))
exit_now(0)
"""
    proc = _python(code, tmp_path)
    assert proc.returncode == 0
    assert proc.stdout.splitlines() == ["last registered", "first registered"]
    assert "logged before exit" in (tmp_path / "log.txt").read_text()  # logging's atexit flush ran


def test_a_non_daemon_thread_is_waited_for(tmp_path: Path) -> None:
    code = """
import threading, time
from pathlib import Path
from orchestrator.cli.process_exit import exit_now
def work():
    time.sleep(0.5)
    Path("done").write_text("yes")
threading.Thread(target=work).start()
exit_now(4)
"""
    proc = _python(code, tmp_path)
    assert proc.returncode == 4
    assert (tmp_path / "done").read_text() == "yes"


def test_a_stdout_gone_before_the_flush_does_not_turn_into_a_traceback(tmp_path: Path) -> None:
    """`orc get | head -1`: the reader went away with bytes still in our buffer."""
    code = """
import os, sys
from orchestrator.cli.process_exit import exit_now
sys.stdout.write("buffered, never written")
os.close(1)
exit_now(6)
"""
    proc = _python(code, tmp_path)
    assert proc.returncode == 6
    assert "Traceback" not in proc.stderr


@pytest.mark.parametrize(("arg", "code", "stderr"), [(None, 0, ""), (5, 5, ""), ("bad input", 1, "bad input\n")])
def test_exit_code_reads_system_exit_as_python_does(arg: object, code: int, stderr: str,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    assert exit_code(SystemExit(arg)) == code
    assert capsys.readouterr().err == stderr


def test_the_orc_program_exits_with_its_command_code_and_output(tmp_path: Path) -> None:
    """`python -m orchestrator.cli.main` (what the console script runs): a usage error's code and text."""
    proc = subprocess.run([sys.executable, "-m", "orchestrator.cli.main", "no-such-command"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 2
    assert "no-such-command" in proc.stderr
    ok = subprocess.run([sys.executable, "-m", "orchestrator.cli.main", "--help"], cwd=tmp_path,
                        capture_output=True, text=True, timeout=60, check=False)
    assert ok.returncode == 0
    assert "reconcile" in ok.stdout
