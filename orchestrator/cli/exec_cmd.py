"""`orc exec [-i] [-t] POD [-c C] -- CMD...`: a command in a pod's container, through the host's docker over
SSH, as `kubectl exec` runs it. With -it, a real pseudo-terminal: the SSH session asks for a pty of the local
terminal's size (and follows its changes), the local terminal is in raw mode (so ^C, ^Z, ^D go to the remote
process), and `docker exec -it` runs under it. orc exits with the command's exit status."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import click

from orchestrator.cli.context import AppContext
from orchestrator.cli.kubectl_options import namespace_options

if TYPE_CHECKING:
    import paramiko

NO_TTY = "Unable to use a TTY - input is not a terminal or the right kind of file"


@click.command(context_settings={"ignore_unknown_options": True})
@click.option("-i", "--stdin", "stdin", is_flag=True,
              help="Pass standard input to the command as it comes (typed or piped).")
@click.option("-t", "--tty", "tty", is_flag=True,
              help="With -i and a terminal: a pseudo-terminal, for shells and full-screen programs.")
@click.argument("target", metavar="POD")
@click.option("-c", "--container", help="Container name (default: the pod's first container).")
@click.option("-q", "--quiet", is_flag=True, help="Print only the command's own output (no notes on stderr).")
@click.argument("command", nargs=-1, required=False, type=click.UNPROCESSED, metavar="-- CMD [ARGS...]")
@namespace_options()
@click.pass_obj
def exec_(obj: AppContext, stdin: bool, tty: bool, target: str, container: str | None, quiet: bool,
          command: tuple[str, ...], namespace: str | None = None) -> int:
    """Run a command in a pod's container and exit with its status.

    \b
      orc exec web-x2k4p -- cat /etc/hosts
      orc exec -it web-x2k4p -- sh                interactive shell (exit or ^D ends it)
      echo hi | orc exec -i pod/web-x2k4p -c side -- cat
      orc exec deploy/web -- nginx -t             one pod of the Deployment

    -t is used only with -i and when standard input is a terminal (as kubectl: otherwise a note says so).
    Without -i, a standard input that is not a terminal is still passed on (`echo x | orc exec POD -- cat`).
    """
    from orchestrator.cli.pod_docker import exec_argv, remote_line
    from orchestrator.cli.pod_lookup import containers_of, host_of, read_cluster, running_pod, workload_pods
    from orchestrator.cli.pod_target import by_logging, choose_containers, parse_target
    from orchestrator.cli.services import make_transport

    argv = list(command[1:] if command and command[0] == "--" else command)
    if not argv:
        raise click.UsageError("give the command after --: orc exec POD -- CMD [ARGS...]")
    parsed = parse_target(target, command="exec")
    cluster = read_cluster(obj, None if parsed.is_pod else parsed.key)
    if parsed.is_pod:
        pod = running_pod(cluster, parsed.name)
    else:
        pod = by_logging(workload_pods(cluster, parsed))[0]
    host = host_of(cluster, pod)
    terminal_in = sys.stdin is not None and sys.stdin.isatty()
    if tty and not (stdin and terminal_in):
        if stdin and not quiet:
            click.echo(NO_TTY, err=True)
        tty = False
    forward = stdin or (sys.stdin is not None and not terminal_in)  # orc passes piped input on without -i
    transport = make_transport(obj)
    try:
        if container is None:
            found = containers_of(transport, cluster, [pod])[pod.name]
            if isinstance(found, str):
                raise click.ClickException(found)
            try:
                (container,), note = choose_containers(pod.name, found, None, False)
            except LookupError as e:
                raise click.ClickException(str(e)) from None
            if note and not quiet:
                click.echo(note, err=True)
        line = remote_line(exec_argv(pod.name, container, argv, stdin=forward, tty=tty), become=host.become)
        sys.stdout.flush()
        with transport.channel(host) as chan:
            return _session(chan, line, forward=forward, tty=tty)
    finally:
        transport.close()


def _session(chan: paramiko.Channel, line: str, *, forward: bool, tty: bool) -> int:
    from orchestrator.cli import terminal
    from orchestrator.transport.interactive import PtyRequest, run_interactive

    out, err = sys.stdout.fileno(), sys.stderr.fileno()
    if not tty:
        return run_interactive(chan, line, stdin_fd=sys.stdin.fileno() if forward else None,
                               stdout_fd=out, stderr_fd=err)
    fd = sys.stdin.fileno()
    cols, rows = terminal.size(fd)
    with terminal.window_changes() as winch, terminal.raw_mode(fd):
        return run_interactive(chan, line, stdin_fd=fd, stdout_fd=out, stderr_fd=err,
                               pty=PtyRequest(terminal.term(), cols, rows), winch_fd=winch,
                               size=lambda: terminal.size(fd))
