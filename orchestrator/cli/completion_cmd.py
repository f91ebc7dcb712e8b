"""`orc completion SHELL`: print click's completion script for bash, zsh or fish."""

from __future__ import annotations

import click

COMPLETE_VAR = "_ORC_COMPLETE"  # click's `_{PROG}_COMPLETE`: what the printed script sets to ask `orc`


@click.command()
@click.argument("shell", type=click.Choice(["bash", "zsh", "fish"]))
@click.pass_context
def completion(ctx: click.Context, shell: str) -> None:
    """Print the shell completion script for SHELL. It completes commands, options, resource kinds and
    object names from the project's store (`orc get pods <TAB>`, `orc describe rc/<TAB>`).

    \b
    Install (then open a new shell):
      bash (>= 4.4):  echo 'eval "$(orc completion bash)"' >> ~/.bashrc
      zsh:            echo 'eval "$(orc completion zsh)"' >> ~/.zshrc
      fish:           orc completion fish > ~/.config/fish/completions/orc.fish

    \b
    Faster shell start-up (bash; the same for zsh): write the script once and source the file
      orc completion bash > ~/.orc-complete.bash
      echo '. ~/.orc-complete.bash' >> ~/.bashrc
    """
    from click.shell_completion import get_completion_class

    cls = get_completion_class(shell)
    assert cls is not None  # the Choice admits only shells click knows
    script = cls(ctx.find_root().command, {}, "orc", COMPLETE_VAR).source()
    click.echo(script, nl=not script.endswith("\n"))
