"""The `opsgate` command line (CONTRACT.md). Each command opens one transaction and commits once."""
from __future__ import annotations

import contextlib
import functools
import logging
import os
import secrets
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import click
from sqlalchemy.orm import Session

from engine import audit, db, definitions, services, users
from engine.errors import EngineError, InvalidDefinition

log = logging.getLogger(__name__)


def database_option(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Accept --database-url on any command (and on the group)."""

    @click.option("--database-url", "database_url", default=None, envvar="OPSGATE_DATABASE_URL",
                  help="SQLAlchemy URL; default: SQLite instance/opsgate.db")
    @click.pass_context
    @functools.wraps(fn)
    def wrapper(ctx: click.Context, *args: Any, database_url: str | None, **kwargs: Any) -> Any:
        root = ctx.find_root()
        root.ensure_object(dict)
        if database_url:
            root.obj["database_url"] = database_url
        return ctx.invoke(fn, *args, **kwargs)

    return wrapper


def _engine():
    ctx = click.get_current_context().find_root()
    ctx.ensure_object(dict)
    if "engine" not in ctx.obj:
        ctx.obj["engine"] = db.make_engine(ctx.obj.get("database_url"))
    return ctx.obj["engine"]


@contextlib.contextmanager
def transaction() -> Iterator[Session]:
    """One unit of work: commit on success, roll back and report an engine error on failure."""
    maker = db.make_sessionmaker(_engine())
    session = maker()
    try:
        yield session
        session.commit()
    except EngineError as err:
        session.rollback()
        _report(err)
        sys.exit(1)
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def _report(err: EngineError) -> None:
    if isinstance(err, InvalidDefinition):
        for d in err.details:
            where = ":".join(str(p) for p in (d["file"], d.get("line")) if p)
            element = f" [{d['element_id']}]" if d.get("element_id") else ""
            click.echo(f"{where}{element}: {d['message']}", err=True)
        click.echo("nothing deployed", err=True)
        return
    click.echo(f"error: {err.message}", err=True)
    if isinstance(err.details, dict):
        for field, messages in err.details.items():
            for message in messages if isinstance(messages, list) else [messages]:
                click.echo(f"  {field}: {message}", err=True)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--database-url", default=None, envvar="OPSGATE_DATABASE_URL",
              help="SQLAlchemy URL; default: SQLite instance/opsgate.db")
@click.option("-v", "--verbose", is_flag=True, help="Log what the engine does.")
@click.pass_context
def main(ctx: click.Context, database_url: str | None, verbose: bool) -> None:
    """opsgate: IT operations processes (ITIL) as BPMN."""
    ctx.ensure_object(dict)
    ctx.obj["database_url"] = database_url
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s")


def init_database(*, quiet: bool = False) -> str | None:
    """Upgrade the schema, create the groups, deploy workflows/, create `admin` if missing.

    Return the admin password when one was generated (it is shown once)."""
    db.upgrade(_engine())
    generated = None
    with transaction() as session:
        for name in users.access.GROUPS:
            users.get_group(session, name)
        folder = definitions.workflows_dir()
        if folder.is_dir() and any(folder.glob("*.bpmn")):
            for result in definitions.deploy_directory(session, folder, actor=None):
                if not quiet:
                    state = "deployed" if result.created else "unchanged"
                    click.echo(f"{result.key} v{result.version} {state}")
        if users.find_user(session, "admin") is None:
            password = os.environ.get("OPSGATE_ADMIN_PASSWORD") or secrets.token_urlsafe(12)
            if "OPSGATE_ADMIN_PASSWORD" not in os.environ:
                generated = password
            users.create_user(session, "admin", ["admin", "process_owner"], password, actor=None,
                              display_name="Administrator")
    return generated


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
@click.option("--as", "as_user", default=None, help="Record the deploy as this user (a process owner).")
@database_option
def deploy(files: tuple[Path, ...], as_user: str | None) -> None:
    """Validate and deploy BPMN/DMN files as new versions (all or nothing)."""
    with transaction() as session:
        actor = users.get_user(session, as_user) if as_user else None
        results = definitions.deploy(session, [(p.name, p.read_bytes()) for p in files], actor=actor)
        for r in results:
            click.echo(f"{r.key} v{r.version} {'deployed' if r.created else 'unchanged'}")


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
@database_option
def token_create(name: str, label: str) -> None:
    """Print a new API token for a user (shown once; only its hash is stored)."""
    with transaction() as session:
        click.echo(users.create_token(session, name, actor=None, name=label))


@main.group()
def provider() -> None:
    """Manage operations service providers."""


@provider.command("add")
@click.argument("name")
@click.option("--system", "systems", multiple=True, help="A system the provider is responsible for.")
@database_option
def provider_add(name: str, systems: tuple[str, ...]) -> None:
    """Register a provider and the systems it serves."""
    with transaction() as session:
        created = users.add_provider(session, name, list(systems), actor=None)
        click.echo(f"provider {created.name}: systems {', '.join(s.system for s in created.systems) or '-'}")


@main.group("audit")
def audit_group() -> None:
    """Audit trail tools."""


@audit_group.command("verify")
@click.option("--case", "case_ref", default=None, help="Verify only this case (key or id).")
@database_option
def audit_verify(case_ref: str | None) -> None:
    """Recompute the audit hash chain; exit 1 naming the first bad event."""
    with transaction() as session:
        case = services.get_case(session, case_ref) if case_ref else None
        result = audit.verify(session, case)
    if result.ok:
        click.echo(f"ok: {result.checked} events verified")
        return
    click.echo(f"TAMPERED: {result.reason}", err=True)
    if result.first_bad is not None:
        e = result.first_bad
        click.echo(f"first bad event: chain {e.chain} seq {e.seq} (id {e.id}, {e.type} by {e.actor} at "
                   f"{e.at.isoformat()})", err=True)
    sys.exit(1)


# Commands that live in their own modules register themselves here.
for _module in ("webui.cli_serve", "webui.cli_worker", "webui.cli_demo", "webui.cli_evaluate"):
    try:
        __import__(_module)
    except ModuleNotFoundError as _err:
        if _err.name != _module:
            raise


if __name__ == "__main__":
    # Run as `python -m webui.cli`: this module is then __main__, and the command modules
    # registered themselves on webui.cli's group, so call that one.
    from webui.cli import main as _main

    _main()
