"""Setting up and looking after an installation: init, deploy, users, tokens, providers, audit verify."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import click

from webui.cli.base import database_option, init_database, main, report_verification, transaction

log = logging.getLogger(__name__)

@main.command()
@database_option
def init() -> None:
    """Create or upgrade the schema, deploy workflows/, create the admin user."""
    generated = init_database()
    if generated:
        click.echo(f"created user admin with password: {generated}  (shown once)")
    click.echo("database ready")


@main.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--as", "as_user", default=None,
              help="Record the deploy as this user (a process owner); with four-eyes on, it is a proposal.")
@click.option("--note", default="", help="Why the process changes (shown to the reviewer).")
@database_option
def deploy(files: tuple[Path, ...], as_user: str | None, note: str) -> None:
    """Validate and deploy BPMN/DMN files as new versions (all or nothing)."""
    from engine.cases import proposals
    from engine.people import users

    with transaction() as session:
        actor = users.get_user(session, as_user) if as_user else None
        results = proposals.deploy(session, [(p.name, p.read_bytes()) for p in files], actor=actor, note=note)
        for r in results:
            if r.created and r.definition.status == "proposed":
                click.echo(f"{r.key} v{r.version} proposed (review: {r.definition.review_case})")
                continue
            click.echo(f"{r.key} v{r.version} {'deployed' if r.created else 'unchanged'}")
            for w in r.warnings:
                where = w["file"] + (f":{w['line']}" if w.get("line") else "") + \
                    (f" [{w['element_id']}]" if w.get("element_id") else "")
                click.echo(f"warning: {where}: {w['message']}", err=True)


@main.group()
def user() -> None:
    """Manage users."""


@user.command("add")
@click.argument("name")
@click.option("--group", "groups", multiple=True, help="A group (role); repeat for several.")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@click.option("--display-name", default="")
@click.option("--email", default="")
@database_option
def user_add(name: str, groups: tuple[str, ...], password_stdin: bool, display_name: str, email: str) -> None:
    """Create a user, or add groups to an existing one."""
    from engine.people import users

    password = sys.stdin.readline().rstrip("\n") if password_stdin else None
    with transaction() as session:
        created = users.create_user(session, name, list(groups), password, actor=None,
                                    display_name=display_name, email=email)
        click.echo(f"user {created.name}: groups {', '.join(sorted(created.group_names))}")


@main.group()
def token() -> None:
    """Manage API tokens."""


@token.command("create")
@click.argument("name")
@click.option("--label", default="", help="What the token is for.")
@click.option("--expires-days", type=click.IntRange(1, 3650), default=None,
              help="Days until the token stops working (default: never).")
@click.option("--read-only", is_flag=True, help="The token may only read (GET): for monitoring dashboards.")
@database_option
def token_create(name: str, label: str, expires_days: int | None, read_only: bool) -> None:
    """Print a new API token for a user (shown once; only its hash is stored)."""
    from engine.people import tokens

    with transaction() as session:
        click.echo(tokens.create_token(session, name, actor=None, name=label, expires_in_days=expires_days,
                                       scope="read" if read_only else "all"))


@main.group()
def provider() -> None:
    """Manage operations service providers."""


@provider.command("add")
@click.argument("name")
@click.option("--system", "systems", multiple=True, help="A system the provider is responsible for.")
@database_option
def provider_add(name: str, systems: tuple[str, ...]) -> None:
    """Register a provider and the systems it serves."""
    from engine.people import providers

    with transaction() as session:
        created = providers.add_provider(session, name, list(systems), actor=None)
        click.echo(f"provider {created.name}: systems {', '.join(s.system for s in created.systems) or '-'}")


@main.group("audit")
def audit_group() -> None:
    """Audit trail tools."""


@audit_group.command("verify")
@click.option("--case", "case_ref", default=None, help="Verify only this case (key or id).")
@database_option
def audit_verify(case_ref: str | None) -> None:
    """Recompute the audit hash chain; exit 1 naming the first bad event."""
    from engine.cases import queries
    from engine.records import audit

    with transaction() as session:
        case = queries.find_case(session, case_ref) if case_ref else None
        result = audit.verify(session, case)
    if not report_verification(result):
        sys.exit(1)


@main.command("four-eyes")
@click.argument("state", type=click.Choice(["on", "off", "status"]), default="status")
@database_option
def four_eyes(state: str) -> None:
    """Show or set four-eyes on process changes (a second process owner approves each new version)."""
    from engine.cases import proposals

    with transaction() as session:
        if state != "status":
            proposals.set_four_eyes(session, state == "on", actor=None)
        click.echo(f"four-eyes on process changes: {'on' if proposals.four_eyes(session) else 'off'}")


@main.command("put-live")
@click.argument("key")
@click.argument("version", type=int)
@click.option("--reason", required=True, help="Why the version goes live without a review (recorded).")
@click.option("--as", "as_user", required=True, help="The admin who puts it live.")
@database_option
def put_live(key: str, version: int, reason: str, as_user: str) -> None:
    """Put a proposed version live without a review (an emergency): audited, process owners told."""
    from engine.cases import proposals
    from engine.people import users

    with transaction() as session:
        done = proposals.put_live(session, key, version, reason, actor=users.get_user(session, as_user))
        click.echo(f"{done.key} v{done.version} live without a review; {done.notified} notice(s) to process owners")
