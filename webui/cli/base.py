"""The `opsgate` command line (CONTRACT.md). Each command opens one transaction and commits once."""
from __future__ import annotations

import contextlib
import dataclasses
import functools
import logging
import os
import secrets
import sys
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import click

from engine.errors import EngineError, InvalidDefinition
from webui import config as webui_config
from webui import logs

if TYPE_CHECKING:
    from sqlalchemy import Engine
    from sqlalchemy.orm import Session, sessionmaker

    from engine.config import EngineConfig
    from engine.records.audit import Verification

# The command modules import the engine (SQLAlchemy, SpiffWorkflow, argon2) inside their
# functions: `opsgate --help` loads only click and these small modules (tests/webui/test_cli_startup.py).

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


def engine_config() -> EngineConfig:
    """The engine's settings for this command: the environment, and --database-url over it."""
    from engine.config import EngineConfig

    ctx = click.get_current_context().find_root()
    ctx.ensure_object(dict)
    if "config" not in ctx.obj:
        found = EngineConfig.from_environ(database_url=ctx.obj.get("database_url"))
        if not found.secret_key:  # the same key the web app uses (webhook secrets are encrypted under it)
            found = dataclasses.replace(found, secret_key=webui_config.secret_key(webui_config.instance_path()))
        ctx.obj["config"] = found
    return ctx.obj["config"]


def database() -> Engine:
    """The command's database engine (one per command)."""
    from engine import db

    ctx = click.get_current_context().find_root()
    ctx.ensure_object(dict)
    if "engine" not in ctx.obj:
        ctx.obj["engine"] = db.make_engine(engine_config().database_url)
        ctx.call_on_close(ctx.obj["engine"].dispose)  # close pooled connections when the command ends
    return ctx.obj["engine"]


def sessions() -> sessionmaker[Session]:
    """Sessions on the command's database, carrying its settings."""
    from engine import db

    return db.make_sessionmaker(database(), engine_config())


@contextlib.contextmanager
def transaction() -> Iterator[Session]:
    """One unit of work: commit on success, roll back and report an engine error on failure."""
    maker = sessions()
    session = maker()
    try:
        yield session
        session.commit()
    except EngineError as err:
        session.rollback()
        report_error(err)
        sys.exit(1)
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def report_error(err: EngineError) -> None:
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


def report_verification(result: Verification) -> bool:
    """Print an audit-chain verification as `opsgate audit verify` does; return whether it held."""
    if result.ok:
        click.echo(f"ok: {result.checked} events verified")
        return True
    click.echo(f"TAMPERED: {result.reason}", err=True)
    if result.first_bad is not None:
        e = result.first_bad
        click.echo(f"first bad event: chain {e.chain} seq {e.seq} (id {e.id}, {e.type} by {e.actor} at "
                   f"{e.at.isoformat()})", err=True)
    return False


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--database-url", default=None, envvar="OPSGATE_DATABASE_URL",
              help="SQLAlchemy URL; default: SQLite instance/opsgate.db")
@click.option("-v", "--verbose", is_flag=True, help="Log what the engine does.")
@click.pass_context
def main(ctx: click.Context, database_url: str | None, verbose: bool) -> None:
    """opsgate: IT operations processes (ITIL) as BPMN."""
    ctx.ensure_object(dict)
    ctx.obj["database_url"] = database_url
    try:
        logs.configure(verbose=verbose)
    except ValueError as err:
        raise click.UsageError(str(err)) from None


def init_database(*, quiet: bool = False) -> str | None:
    """Upgrade the schema, create the groups, deploy workflows/, create `admin` if missing.

    Return the admin password when one was generated (it is shown once)."""
    from engine import db
    from engine.cases import proposals
    from engine.evaluation import provider_measures
    from engine.evaluation.config import evaluation_config
    from engine.people import roles, users
    from engine.processes import case_facts, catalog, deployment

    db.upgrade(database())
    generated = None
    with transaction() as session:
        if not case_facts.complete(session):
            # Cases that ended before the facts existed (migration 0010): what the evaluation reads of them.
            written = case_facts.rebuild(session)
            if not quiet and written:
                click.echo(f"evaluation facts written for {written} ended cases")
        # The month summary, with this installation's targets (a changed configuration's included).
        summary = provider_measures.keep_summary(session, evaluation_config(session))
        if not quiet and summary is not None:
            click.echo(f"evaluation month summary written ({summary} rows)")
        for name in roles.GROUPS:
            users.get_group(session, name)
        # A database with no process yet is a new installation: four-eyes on process changes starts on.
        new_installation = not catalog.list_definitions(session)
        folder = catalog.workflows_dir()
        if folder.is_dir() and any(folder.glob("*.bpmn")):
            for result in deployment.deploy_directory(session, folder, actor=None):
                if not quiet:
                    state = "deployed" if result.created else "unchanged"
                    click.echo(f"{result.key} v{result.version} {state}")
        proposals.default_four_eyes(session, new_installation=new_installation)
        if users.find_user(session, "admin") is None:
            password = os.environ.get("OPSGATE_ADMIN_PASSWORD") or secrets.token_urlsafe(12)
            if "OPSGATE_ADMIN_PASSWORD" not in os.environ:
                generated = password
            users.create_user(session, "admin", ["admin", "process_owner"], password, actor=None,
                              display_name="Administrator")
    return generated
