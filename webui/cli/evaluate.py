"""`opsgate evaluate`: monthly provider scorecards or the annual assessment, as a file.

    opsgate evaluate --period 2026-03 [--provider Acme] [--format json|csv|xlsx|html] [-o FILE]
    opsgate evaluate --period 2026            (annual assessment with its twelve months)
    opsgate evaluate --period 2026-03 --publish --as SUPERVISOR
        (store the scorecards, open rectification cases)

Without -o the report goes to standard output. Exit status 0; 1 on bad input (the message
names the option).
"""
from __future__ import annotations

import click

from webui.cli.base import database_option, main, transaction

# webui.exports.FORMATS, written out: `opsgate --help` loads no exporter (tests/webui/test_cli_startup.py
# holds the two equal).
FORMATS = ("json", "csv", "xlsx", "html")


@main.command("evaluate")
@click.option("--period", required=True,
              help="YYYY-MM for monthly scorecards, YYYY for the annual assessment.")
@click.option("--provider", default=None, help="Only this provider.")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="json",
              show_default=True, help="Output format.")
@click.option("-o", "--output", type=click.Path(dir_okay=False, allow_dash=True), default="-",
              help="Write to this file (default: standard output).")
@click.option("--publish", is_flag=True,
              help="Store the month's scorecards and open a rectification case for each "
                   "provider below a pass mark (needs --as).")
@click.option("--as", "as_user", default=None,
              help="The supervisor publishing (the rectification cases' requester).")
@database_option
def evaluate(period: str, provider: str | None, fmt: str, output: str, publish: bool,
             as_user: str | None) -> None:
    """Score providers for a month (YYYY-MM) or assess them for a year (YYYY)."""
    from engine.evaluation import scorecards
    from engine.people import users
    from webui import exports

    if publish and provider:
        raise click.UsageError("--publish scores every provider; drop --provider")
    if publish and not as_user:
        raise click.UsageError("--publish needs --as SUPERVISOR")
    with transaction() as session:
        if publish:
            actor = users.get_user(session, as_user)
            for row, case in scorecards.publish_month(session, period, actor=actor):
                if case is not None:
                    click.echo(f"{row.provider.name} {row.period}: below a pass mark; "
                               f"rectification case {case.key} opened", err=True)
        body = exports.render(
            scorecards.build_report(session, period, provider=provider), fmt)
    if output == "-":
        with click.open_file("-", "wb") as stream:
            stream.write(body)
    else:
        with open(output, "wb") as fh:
            fh.write(body)
        click.echo(f"wrote {output}", err=True)
