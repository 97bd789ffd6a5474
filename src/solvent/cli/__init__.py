"""The ``solvent`` command. Exit codes: 0 success, 2 bad input (one-line message), 1 failure."""

from __future__ import annotations

import sys

import click

from solvent.cli.adequacy_command import adequacy_cmd
from solvent.cli.bench_command import bench_cmd
from solvent.cli.calc_commands import account_cmd, liq_price_cmd
from solvent.cli.demo import demo_cmd
from solvent.cli.keys_command import keys_cmd
from solvent.cli.options_commands import options_cmd
from solvent.cli.realism_command import realism_cmd
from solvent.cli.schema_command import schema_cmd
from solvent.cli.simulate_command import simulate_cmd
from solvent.cli.venues_commands import venues_cmd
from solvent.errors import InvalidInput, SolventError
from solvent.units import install_context

__all__ = ["cli", "main"]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="solvent")
def cli() -> None:
    """solvent: exact maintenance margin and liquidation for crypto derivatives."""


cli.add_command(liq_price_cmd)
cli.add_command(account_cmd)
cli.add_command(venues_cmd)
cli.add_command(demo_cmd)
cli.add_command(bench_cmd)
__import__("solvent.cli.journal_commands")  # registers replay, verify, explain, export, import
__import__("solvent.cli.proof_commands")  # registers tlog and prove-liabilities
cli.add_command(__import__("solvent.cli.serve_command", fromlist=["serve_cmd"]).serve_cmd)
cli.add_command(simulate_cmd)
cli.add_command(adequacy_cmd)
cli.add_command(realism_cmd)
cli.add_command(keys_cmd)
cli.add_command(schema_cmd)
cli.add_command(options_cmd)
cli.add_command(__import__("solvent.cli.zk_commands", fromlist=["zk_cmd"]).zk_cmd)
cli.add_command(__import__("solvent.cli.cluster_commands", fromlist=["cluster_cmd"]).cluster_cmd)


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; never lets a traceback reach the user."""
    install_context()  # the solvent command is solvent's own process: its threads compute in solvent's context
    try:
        code = cli.main(args=argv, prog_name="solvent", standalone_mode=False)
        if isinstance(code, int) and not isinstance(code, bool):  # a command's ``click.exceptions.Exit(n)``:
            return code  # Click (8.2+) returns its code here without raising; no command returns an int itself
    except click.exceptions.Exit as done:
        return done.exit_code
    except click.UsageError as bad:
        click.echo(f"error: {bad.format_message()}", err=True)
        return 2
    except click.ClickException as bad:
        click.echo(f"error: {bad.format_message()}", err=True)
        return 2 if bad.exit_code == 2 else 1
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        return 1
    except InvalidInput as bad:
        click.echo(f"error: {bad}", err=True)
        return 2
    except SolventError as failed:
        click.echo(f"error: {failed}", err=True)
        return 1
    except Exception as crash:  # the edge: one line, never a traceback
        click.echo(f"internal error: {type(crash).__name__}: {crash}", err=True)
        return 1
    return 0


def entry_point() -> None:
    sys.exit(main())
