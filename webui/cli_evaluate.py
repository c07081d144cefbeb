"""`opsgate evaluate`: monthly provider scorecards or the annual assessment, as a file.

    opsgate evaluate --period 2026-03 [--provider Acme] [--format json|csv|xlsx|html] [-o FILE]
    opsgate evaluate --period 2026            (annual assessment with its twelve months)
    opsgate evaluate --period 2026-03 --publish   (store the scorecards, open rectification cases)

Without -o the report goes to standard output. Exit status 0; 1 on bad input (the message
names the option).
"""
from __future__ import annotations

import sys

import click

from engine import evaluation
from engine.errors import EngineError

from . import evaluation_export

CLI_ACTOR = "cli"


@click.command("evaluate")
@click.option("--period", required=True, help="YYYY-MM for monthly scorecards, YYYY for the annual assessment.")
@click.option("--provider", default=None, help="Only this provider.")
@click.option("--format", "fmt", type=click.Choice(evaluation_export.FORMATS), default="json",
              show_default=True, help="Output format.")
@click.option("-o", "--output", type=click.Path(dir_okay=False, allow_dash=True), default="-",
              help="Write to this file (default: standard output).")
@click.option("--publish", is_flag=True,
              help="Store the month's scorecards and open a rectification case for each provider below a pass mark.")
def evaluate(period: str, provider: str | None, fmt: str, output: str, publish: bool) -> None:
    """Score providers for a month (YYYY-MM) or assess them for a year (YYYY)."""
    from .cli import cli_session  # the core CLI's session scope (commits on success)

    try:
        with cli_session() as session:
            if publish:
                if provider:
                    raise click.UsageError("--publish scores every provider; drop --provider")
                for row, case in evaluation.publish_month(session, period, actor=CLI_ACTOR):
                    if case is not None:
                        click.echo(f"{row.provider.name} {row.period}: below a pass mark, "
                                   f"rectification case {case.key} opened", err=True)
            body = evaluation_export.render(
                evaluation.build_report(session, period, provider=provider), fmt)
    except EngineError as exc:
        click.echo(f"error: {exc.message}", err=True)
        sys.exit(1)
    if output == "-":
        stream = click.get_binary_stream("stdout")
        stream.write(body)
        stream.flush()
    else:
        with open(output, "wb") as fh:
            fh.write(body)
        click.echo(f"wrote {output}", err=True)
