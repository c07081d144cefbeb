"""`opsgate migrate`: move open cases to another version of their process (docs/migration.md)."""
from __future__ import annotations

import sys

import click

from engine.errors import EngineError
from webui.cli.base import database_option, main, report_error, sessions, transaction

# engine.jobs.migrations.BATCH, written out: the option is declared when `opsgate --help` runs,
# which loads no engine module (tests/webui/test_cli_startup.py holds the two equal).
BATCH = 200
_SAID = {"can_move": "can move", "cannot_move": "cannot move", "moved": "moved", "skipped": "skipped"}


@main.command("migrate")
@click.argument("key")
@click.option("--to", "to_version", type=int, required=True, help="The version the cases move to.")
@click.option("--from", "from_version", type=int, default=None, help="Move only cases on this version.")
@click.option("--case", "case_keys", multiple=True, help="Move only this case (key); repeat for several.")
@click.option("--map", "pairs", multiple=True, metavar="OLD=NEW",
              help="Map an element of the cases' version to one of the target; repeat for several.")
@click.option("--dry-run", is_flag=True, help="List each case with can / cannot move and why; move nothing.")
@click.option("--as", "as_user", default=None, help="Record the move as this user (a process owner).")
@click.option("--batch", default=BATCH, show_default=True, help="Cases read and planned at a time.")
@database_option
def migrate_command(key: str, to_version: int, from_version: int | None, case_keys: tuple[str, ...],
                    pairs: tuple[str, ...], dry_run: bool, as_user: str | None, batch: int) -> None:
    """Move open cases of process KEY to another version (each case in its own transaction)."""
    from engine.cases import migration
    from engine.jobs import migrations
    from engine.people import users

    actor_id = None
    with transaction() as session:
        mapping = migration.parse_mapping(pairs)
        if as_user:
            actor_id = users.get_user(session, as_user).id
    try:
        report = migrations.run_migration(sessions(), key, to_version=to_version, from_version=from_version,
                                          case_keys=case_keys, mapping=mapping, dry_run=dry_run,
                                          actor_id=actor_id, batch=max(1, batch))
    except EngineError as err:
        report_error(err)
        sys.exit(1)
    for case in report.cases:
        line = f"{case.case_key} v{case.from_version} -> v{case.to_version}: {_SAID[case.status]}"
        if case.reasons:
            line += ", because " + "; ".join(r.message for r in case.reasons)
        elif case.message:
            line += ", because " + case.message
        click.echo(line)
    counts = ", ".join(f"{report.count(s)} {_SAID[s]}" for s in
                       (("can_move", "cannot_move") if dry_run else ("moved", "skipped", "cannot_move")))
    click.echo(f"{key} -> v{report.to_version} ({report.to_sha256[:12]}): {len(report.cases)} case(s); {counts}")
    if case_keys and any(c.status in ("cannot_move", "skipped") for c in report.cases):
        sys.exit(1)
