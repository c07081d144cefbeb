"""`opsgate backup FILE` and `opsgate restore FILE`: the whole database in one file (docs/operations.md)."""
from __future__ import annotations

import sys
from pathlib import Path

import click

from engine.errors import EngineError
from webui.cli.base import database, database_option, main, report_error, report_verification, transaction


@main.command("backup")
@click.argument("file", type=click.Path(dir_okay=False, writable=True, path_type=Path))
@database_option
def backup_command(file: Path) -> None:
    """Copy the whole database, attachments included, to FILE (safe while opsgate runs)."""
    from engine.backups import operations

    try:
        header = operations.backup_database(database(), file)
    except EngineError as err:
        report_error(err)
        sys.exit(1)
    click.echo(f"wrote {file}: {header.summary()}")


@main.command("restore")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@database_option
def restore_command(file: Path) -> None:
    """Restore FILE (made by `opsgate backup`) into an EMPTY database, then verify the audit chain."""
    from engine.backups import operations
    from engine.records import audit

    try:
        restored = operations.restore_database(database(), file)
    except EngineError as err:
        report_error(err)
        sys.exit(1)
    click.echo(f"restored {file}: {restored.header.summary()}")
    if restored.upgraded_to:
        click.echo(f"schema upgraded from {restored.header.revision} to {restored.upgraded_to}")
    click.echo("verifying the audit chain ...")
    with transaction() as session:
        result = audit.verify(session)
    if not report_verification(result):
        sys.exit(1)
