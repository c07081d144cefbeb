"""`opsgate demo`: a ready-to-click opsgate with people, a provider and cases in several states.

It runs `init`, then adds one demo user per role (passwords printed once; all the same
password when OPSGATE_DEMO_PASSWORD is set), the provider "Acme Operations" with its
systems, and cases: an incident just reported (open), a normal change waiting on the CAB
(waiting on approval), an incident whose resolution SLA ran out (escalated), a
standard change carried through to the end (closed), a machine-room inspection with a
finding (and the incident it opened), work orders done and rated, in work and just
requested, and a machine-room visit waiting on approval. Then it serves the web UI.
What it creates, and how, is webui.cli.demo_data.
"""

from __future__ import annotations

import os

import click

from webui.cli.base import database_option, main
from webui.cli.worker import start_background_worker


@main.command("demo")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--no-serve", is_flag=True, help="Set up the demo and exit.")
@database_option
def demo(host: str, port: int, no_serve: bool) -> None:
    """Set up a demo (users per role, a provider, cases in several states), then serve."""
    from webui.cli.demo_data import DEMO_USERS, seed_demo

    url = click.get_current_context().find_root().obj.get("database_url")
    passwords = seed_demo(url, password=os.environ.get("OPSGATE_DEMO_PASSWORD"))
    click.echo("Demo users (login  password  groups):")
    for name, _display, groups in DEMO_USERS:
        click.echo(f"  {name:8} {passwords[name]:16} {', '.join(groups)}")
    if "admin" in passwords:
        click.echo(f"  {'admin':8} {passwords['admin']:16} admin, process_owner")
    if no_serve:
        return
    from webui import create_app

    app = create_app({"DATABASE_URL": url} if url else None)
    click.echo(f"opsgate demo on http://{host}:{port}/  (Ctrl+C to stop)")
    import waitress  # here, not at the top: `opsgate --help` need not load the server

    start_background_worker(app)  # with SQLite: SLA timers fire without a separate `opsgate worker`

    from webui import process

    process.settle()
    waitress.serve(app, host=host, port=port, threads=8)
