"""The batch script and its parser, run by a real local `sh -s` (no SSH)."""

from __future__ import annotations

import base64
import hashlib
import shutil
import subprocess

import pytest

from orchestrator.commands.base import Command, cmd, sh
from orchestrator.transport.base import BatchResult
from orchestrator.transport.script import BatchOutputError, build_script, parse_output, remote_command

SHELLS = [s for s in ("sh", "bash") if shutil.which(s)]


def run_local(
    steps: list[Command], *, stop_on_error: bool = False, shell: str = "sh", check: bool = True
) -> BatchResult:
    script = build_script(steps, stop_on_error=stop_on_error)
    proc = subprocess.run([shell, "-s"], input=script.text.encode(), capture_output=True, timeout=30)
    assert proc.returncode == 0 or not check, proc.stderr
    return parse_output(script, "local", proc.stdout, proc.stderr)


@pytest.mark.parametrize("shell", SHELLS)
def test_each_step_reports_its_own_exit_code_stdout_and_stderr(shell: str) -> None:
    result = run_local(
        [
            sh("ok", "echo out; echo err >&2"),
            sh("fails", "printf 'partial'; printf 'bad' >&2; exit 3"),
            cmd("argv", "printf", "%s|", "a b", "c'd", "$HOME"),
            sh("empty", "true"),
        ],
        shell=shell,
    )
    assert [s.name for s in result.steps] == ["ok", "fails", "argv", "empty"]
    assert result["ok"].exit_code == 0 and result["ok"].stdout == "out\n" and result["ok"].stderr == "err\n"
    assert (result["fails"].exit_code, result["fails"].stdout, result["fails"].stderr) == (
        3,
        "partial",
        "bad",
    )
    assert result["argv"].stdout == "a b|c'd|$HOME|"
    assert (result["empty"].exit_code, result["empty"].stdout, result["empty"].stderr) == (0, "", "")
    assert not result.ok


def test_output_without_trailing_newline_and_blank_lines_round_trip_exactly() -> None:
    tricky = ["x", "x\n", "\n", "\n\n", "a\n\nb", " trailing space ", "\r\n"]
    steps = [cmd(f"s{i}", "printf", "%s", text) for i, text in enumerate(tricky)]
    result = run_local(steps)
    assert [s.stdout for s in result.steps] == tricky


def test_marker_like_output_cannot_forge_results() -> None:
    script = build_script([sh("a", "true")])
    forged = f"ORC-{'0' * 32}-E 0 0\nORC-{'0' * 32}-S 1\n"
    result = run_local(
        [
            cmd("liar", "printf", "%s", forged + "\nORC-x-E 0 7\n"),
            sh("next", "echo fine; exit 4"),
        ]
    )
    assert result["liar"].stdout == forged + "\nORC-x-E 0 7\n"
    assert result["liar"].exit_code == 0
    assert (result["next"].stdout, result["next"].exit_code) == ("fine\n", 4)
    assert script.nonce not in forged


def test_large_output_on_both_streams() -> None:
    big = sh("big", "head -c 1048576 /dev/zero | tr '\\0' 'x'; head -c 300000 /dev/zero | tr '\\0' 'e' >&2")
    result = run_local([big, sh("after", "echo done")])
    assert result["big"].stdout == "x" * 1048576
    assert result["big"].stderr == "e" * 300000
    assert result["after"].stdout == "done\n"


def test_unicode_output_survives() -> None:
    text = "héllo wörld ✓ 日本語 🚀"
    result = run_local([cmd("u", "printf", "%s", text)])
    assert result["u"].stdout == text


def test_stop_on_error_skips_later_steps_with_exit_code_none() -> None:
    result = run_local(
        [sh("one", "echo 1"), sh("two", "exit 2"), sh("three", "echo never")],
        stop_on_error=True,
    )
    assert [s.exit_code for s in result.steps] == [0, 2, None]
    assert result["three"].stdout == ""


def test_without_stop_on_error_every_step_runs() -> None:
    result = run_local([sh("one", "exit 1"), sh("two", "echo ran")])
    assert [s.exit_code for s in result.steps] == [1, 0]


def test_exit_in_a_step_only_ends_that_step() -> None:
    result = run_local([sh("quits", "exit 9; echo no"), sh("next", "echo yes")])
    assert (result["quits"].exit_code, result["quits"].stdout) == (9, "")
    assert result["next"].stdout == "yes\n"


def test_stdin_bytes_reach_only_their_step_and_others_read_dev_null() -> None:
    payload = b"line1\nline2 with 'quotes' and $vars\n\x00\x01binary-ish\xff no newline"
    result = run_local(
        [
            sh("count", "wc -c"),
            sh("sum", "od -An -tx1 | tr -d ' \\n'", stdin=payload),
            sh("empty", "wc -c", stdin=b""),
            sh("after", "wc -c"),
        ]
    )
    assert result["count"].stdout.strip() == "0"
    assert result["sum"].stdout == payload.hex()
    assert result["empty"].stdout.strip() == "0"
    assert result["after"].stdout.strip() == "0"


def test_stdin_never_appears_in_the_script_as_plain_text_or_in_any_argv() -> None:
    secret = b"s3cr3t-password-value"
    listing = "for f in /proc/[0-9]*/cmdline; do tr '\\0' ' ' < \"$f\" 2>/dev/null; echo; done"
    script = build_script([sh("use", "cat >/dev/null; " + listing, stdin=secret)])
    assert secret.decode() not in script.text
    result = run_local([sh("use", "cat >/dev/null; " + listing, stdin=secret)])
    encoded = base64.b64encode(secret).decode()
    assert result["use"].exit_code == 0
    assert secret.decode() not in result["use"].stdout and encoded not in result["use"].stdout
    assert "sh -s" in result["use"].stdout  # the listing did see the running batch shell


def test_large_stdin_is_delivered_intact() -> None:
    payload = bytes(range(256)) * 8192  # 2 MiB
    result = run_local([sh("digest", "sha256sum | cut -d' ' -f1", stdin=payload)])
    assert result["digest"].stdout.strip() == hashlib.sha256(payload).hexdigest()


def test_step_killed_mid_way_is_reported_lost_and_later_steps_not_run() -> None:
    result = run_local(
        [sh("first", "echo a"), sh("kills", "printf half; kill -9 $$"), sh("later", "echo b")], check=False
    )
    assert result["first"].exit_code == 0
    assert result["kills"].exit_code == 255 and result["kills"].stdout == "half"
    assert result["later"].exit_code is None


def test_script_that_never_started_raises_with_the_remote_message() -> None:
    script = build_script([sh("a", "true")])
    with pytest.raises(BatchOutputError, match="a password is required"):
        parse_output(script, "h1", b"", b"sudo: a password is required\n")


def test_empty_batch_parses_to_no_steps() -> None:
    result = run_local([])
    assert result.steps == ()


def test_each_script_gets_a_fresh_nonce() -> None:
    assert build_script([sh("a", "true")]).nonce != build_script([sh("a", "true")]).nonce


def test_remote_command_wraps_with_sudo_only_for_become() -> None:
    assert remote_command(False) == "sh -s"
    assert remote_command(True) == "sudo -n sh -s"


def _concurrent(c: Command) -> Command:
    import dataclasses

    return dataclasses.replace(c, concurrent=True)


@pytest.mark.parametrize("shell", SHELLS)
def test_concurrent_steps_run_at_once_and_are_reported_each_in_order(shell: str, tmp_path: object) -> None:
    """Three concurrent steps of 1 s each take about 1 s, not 3; each keeps its own exit code, stdout,
    stderr and stdin; the step after them starts only once all have ended, the one before ended first."""
    import time

    mark = f"{tmp_path}/mark"
    steps = [sh("before", f"echo first > {mark}"),
             _concurrent(sh("a", f"sleep 1; cat {mark}; echo a-err >&2")),
             _concurrent(sh("b", "sleep 1; printf 'no newline'; exit 4")),
             _concurrent(sh("c", f"sleep 1; cat; echo done > {mark}.c", stdin=b"from stdin\n")),
             sh("after", f"cat {mark}.c")]
    start = time.monotonic()
    result = run_local(steps, shell=shell)
    took = time.monotonic() - start
    assert took < 2.5, f"concurrent steps took {took:.1f}s"
    assert [s.name for s in result.steps] == ["before", "a", "b", "c", "after"]
    assert (result["a"].exit_code, result["a"].stdout, result["a"].stderr) == (0, "first\n", "a-err\n")
    assert (result["b"].exit_code, result["b"].stdout, result["b"].stderr) == (4, "no newline", "")
    assert (result["c"].exit_code, result["c"].stdout) == (0, "from stdin\n")
    assert result["after"].stdout == "done\n"


def test_a_guard_step_cannot_be_concurrent() -> None:
    with pytest.raises(ValueError, match="guard"):
        Command(name="g", shell="true", guard=True, concurrent=True)
