"""The `orc` entry point. Subcommands are imported lazily: cron starts this every minute, and
`import paramiko` alone costs ~0.15 s, so only the command that runs pays for its imports."""

from __future__ import annotations

import importlib
import importlib.util
import re
import sys
from typing import NoReturn

import click

from orchestrator.errors import EXIT_USAGE, OrcError

# name -> "module:attribute" of a click command; each module owns its command(s).
COMMANDS: dict[str, str] = {
    "init": "orchestrator.cli.init_cmd:init",
    "lab": "orchestrator.cli.lab_cmd:lab",
    "hosts": "orchestrator.cli.hosts_cmd:hosts",
    "inventory": "orchestrator.cli.inventory_cmd:inventory",
    "apply": "orchestrator.cli.state_cmd:apply",
    "get": "orchestrator.cli.state_cmd:get",
    "describe": "orchestrator.cli.state_cmd:describe",
    "delete": "orchestrator.cli.state_cmd:delete",
    "scale": "orchestrator.cli.state_cmd:scale",
    "explain": "orchestrator.cli.explain_cmd:explain",
    "plan": "orchestrator.cli.reconcile_cmd:plan",
    "reconcile": "orchestrator.cli.reconcile_cmd:reconcile",
    "completion": "orchestrator.cli.completion_cmd:completion",
    "image": "orchestrator.cli.image_cmd:image",
    "logs": "orchestrator.cli.pods_cmd:logs",
    "exec": "orchestrator.cli.pods_cmd:exec_",
    "proxy": "orchestrator.cli.proxy_cmd:proxy",
    "store": "orchestrator.cli.store_cmd:store",
    "what-if": "orchestrator.cli.whatif_cmd:what_if",
    "rollout": "orchestrator.cli.rollout_cmd:rollout",
    "set": "orchestrator.cli.set_cmd:set_",
    "run": "orchestrator.cli.run_cmd:run",
    "cordon": "orchestrator.cli.drain_cmd:cordon",
    "uncordon": "orchestrator.cli.drain_cmd:uncordon",
    "drain": "orchestrator.cli.drain_cmd:drain",
}


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(n for n in COMMANDS if _available(n))

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        """A mistyped command is refused with the commands it resembles, as kubectl does."""
        name = args[0] if args else ""
        if name and not name.startswith("-") and self.get_command(ctx, name) is None:
            import difflib

            matches = difflib.get_close_matches(name, self.list_commands(ctx), n=3, cutoff=0.6)
            hint = "\n\nDid you mean this?\n" + "".join(f"\t{m}\n" for m in matches) if matches else "\n"
            raise click.UsageError(f'unknown command "{name}" for "orc"{hint}Run \'orc --help\' for usage.', ctx)
        return super().resolve_command(ctx, args)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = COMMANDS.get(cmd_name)
        if target is None:
            return None
        module, _, attr = target.partition(":")
        try:
            mod = importlib.import_module(module)
        except ModuleNotFoundError as e:
            if e.name == module:
                return None
            raise
        return getattr(mod, attr)


def _available(name: str) -> bool:
    module = COMMANDS[name].partition(":")[0]
    return importlib.util.find_spec(module) is not None


def _namespace(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    from orchestrator.cli.kubectl_options import check_namespace

    return check_namespace(ctx, param, value)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--config", "config_path", envvar="ORC_CONFIG", type=click.Path(dir_okay=False),
              help="Path to orc.yaml (default: found in this folder or its parents, as git finds .git).")
@click.option("-i", "--inventory", "inventory_path", envvar="ORC_INVENTORY",
              help="Inventory file or folder (Ansible YAML/INI); overrides orc.yaml's.")
@click.option("-v", "--verbose", count=True, help="More detail on stderr (-vv for debug).")
@click.option("-n", "--namespace", "namespace", metavar="default", callback=_namespace, expose_value=False,
              help="The namespace: orc has one, `default` (accepted before the command too, as kubectl takes it).")
@click.version_option(package_name="orchestrator", prog_name="orc")
@click.pass_context
def cli(ctx: click.Context, config_path: str | None, inventory_path: str | None, verbose: int) -> None:
    """orc — an agentless container cluster manager driven over SSH.

    \b
    Typical session:
      orc lab up                 a local 3-host test cluster
      orc hosts                  probe every host
      orc apply -f manifests/    record the desired state
      orc plan                   what a reconcile would do
      orc reconcile              one pass: observe, plan, act (cron-friendly)

    Exit codes: 0 ok, 1 invalid input or failed action, 2 usage, 3 another reconcile holds the lock,
    4 some hosts unreachable (the rest converged), 5 pods pending (cannot be scheduled).
    """
    import logging

    from orchestrator.cli.context import AppContext

    level = logging.DEBUG if verbose >= 2 else logging.INFO if verbose == 1 else logging.WARNING
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    quiet_libraries(verbose)
    ctx.obj = AppContext(config_path=config_path, inventory_path=inventory_path, verbose=verbose)


QUIET_LOGGERS = ("paramiko", "fabric", "invoke")


def quiet_libraries(verbose: int) -> None:
    """Below -vv no library speaks on stderr: paramiko logs a traceback per failed handshake (a non-SSH
    peer, a refused host key) from its own thread, where our transport has already turned the failure into
    one line with the reason. A library thread's uncaught exception is one line too. -vv shows it all."""
    import logging
    import threading

    if verbose >= 2:
        return
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.CRITICAL + 1)

    def one_line(args: threading.ExceptHookArgs) -> None:
        if args.exc_type is SystemExit:
            return
        name = args.thread.name if args.thread is not None else "a thread"
        click.echo(f"error: {name}: {args.exc_type.__name__}: {args.exc_value} (orc -vv shows the traceback)",
                   err=True)

    threading.excepthook = one_line


def verbosity(argv: list[str]) -> int:
    """How many -v the command line has (before `--`)."""
    end = argv.index("--") if "--" in argv else len(argv)
    return sum(a.count("v") if re.fullmatch(r"-v+", a) else 1 for a in argv[:end] if re.fullmatch(r"-v+|--verbose", a))


def hoist_verbose(argv: list[str]) -> list[str]:
    """`-v` is a global option, but users type it anywhere (`orc reconcile -v`), as kubectl allows: move it
    before the command (never past `--`, which ends orc's own options)."""
    end = argv.index("--") if "--" in argv else len(argv)
    flags = [a for a in argv[:end] if re.fullmatch(r"-v+|--verbose", a)]
    return flags + [a for a in argv[:end] if not re.fullmatch(r"-v+|--verbose", a)] + argv[end:]


def split_short_values(argv: list[str]) -> list[str]:
    """`-o=json`, `-n=default`, `-l=app=web`: kubectl's flag parser reads a short option's value after '=', as
    its documentation writes them (`-o=jsonpath='{...}'`); click would keep the '='. Split into the option and
    its value (never past `--`)."""
    end = argv.index("--") if "--" in argv else len(argv)
    out: list[str] = []
    for a in argv[:end]:
        m = re.fullmatch(r"(-[A-Za-z])=(.*)", a, re.DOTALL)
        out += [m.group(1), m.group(2)] if m else [a]
    return out + argv[end:]


def main(argv: list[str] | None = None) -> None:
    args = hoist_verbose(split_short_values(sys.argv[1:] if argv is None else argv))
    try:
        rv = cli.main(args=args, prog_name="orc", standalone_mode=False)
    except OrcError as e:
        click.echo(f"error: {e}", err=True)
        sys.exit(e.exit_code)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(1)
    except click.ClickException as e:
        e.show()
        sys.exit(EXIT_USAGE if isinstance(e, click.UsageError) else e.exit_code)
    except KeyboardInterrupt:
        sys.exit(130)
    except BrokenPipeError:
        sys.exit(0)
    except Exception as e:  # a bug or a library error nobody translated: one line, the traceback at -vv
        if verbosity(args) >= 2:
            raise
        click.echo(f"error: {type(e).__name__}: {e} (orc -vv shows the traceback)", err=True)
        sys.exit(1)
    sys.exit(rv if isinstance(rv, int) else 0)


def run() -> NoReturn:
    """The `orc` program (console script and `python -m`): `main` with garbage collection deferred while its
    modules load (`process_gc`) and the code Python generates for them (dataclasses' methods, string
    annotations) compiled once for all runs (`generated_code`), then leave without the interpreter's
    teardown (`process_exit`). Tests call `main`, which only raises SystemExit."""
    from orchestrator.cli import generated_code, process_gc
    from orchestrator.cli.process_exit import exit_code, exit_now

    process_gc.defer()
    generated_code.install()
    try:
        main()
    except SystemExit as e:
        exit_now(exit_code(e))
    exit_now(0)


if __name__ == "__main__":
    run()
