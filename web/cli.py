"""The ``tapestry`` command. Each sub-command parses its options and calls one function."""

from __future__ import annotations

import sys

import click


@click.group()
def main() -> None:
    """Tapestry: matching and commissioning for personalised public services."""


@main.command("solve")
@click.argument("file")
@click.option("--out", "out", default=None, help="Write the result here instead of stdout.")
@click.option("--mechanism", type=click.Choice(["welfare", "stable"]), default=None)
@click.option("--time-limit", "time_limit", type=float, default=None, help="Seconds.")
def solve_cmd(file: str, out: str | None, mechanism: str | None, time_limit: float | None) -> None:
    """Solve an allocation instance (FILE, or - for standard input)."""
    from engine.cli import run_solve

    sys.exit(run_solve(file, out=out, mechanism=mechanism, time_limit_s=time_limit))


@main.group("db")
def db_group() -> None:
    """Database commands."""


@db_group.command("upgrade")
@click.option(
    "--url",
    default=None,
    help="Database URL (default: TAPESTRY_DATABASE_URL, else instance/tapestry.sqlite).",
)
def db_upgrade_cmd(url: str | None) -> None:
    """Create or update the database tables to the newest version."""
    from models.db import database_url_from_env, upgrade

    target = url or database_url_from_env("instance")
    upgrade(target)
    click.echo("The database is up to date.")
