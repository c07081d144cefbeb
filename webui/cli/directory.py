"""`opsgate directory sync`: bring directory users in line with LDAP / Active Directory."""
from __future__ import annotations

import click

from webui.cli.base import database_option, main, transaction


@main.group("directory")
def directory_group() -> None:
    """LDAP / Active Directory accounts (OPSGATE_DIRECTORY_CONFIG)."""


@directory_group.command("sync")
@database_option
def sync_command() -> None:
    """Deactivate users who left the directory and update everyone's groups (audited)."""
    from engine.people import directory

    with transaction() as session:
        report = directory.sync(session, actor=None)
    click.echo(f"checked {report.checked} directory user(s); updated {len(report.updated)}"
               + (f" ({', '.join(report.updated)})" if report.updated else "")
               + f"; deactivated {len(report.deactivated)}"
               + (f" ({', '.join(report.deactivated)})" if report.deactivated else ""))
