"""`opsgate message` and `opsgate signal`: the command-line side of POST /messages and /signals."""
from __future__ import annotations

import json
import sys
from typing import Any

import click

from engine.errors import EngineError
from webui.cli.base import database_option, main, report_error, transaction


def _json_object(text: str | None) -> dict[str, Any] | None:
    if text is None:
        return None
    try:
        value = json.loads(text)
    except ValueError as err:
        raise click.BadParameter(f"not JSON: {err}", param_hint="--data") from None
    if not isinstance(value, dict):
        raise click.BadParameter("must be a JSON object", param_hint="--data")
    return value


def _pairs(items: tuple[str, ...]) -> dict[str, str]:
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise click.BadParameter(f"{item!r} is not K=V", param_hint="--correlate")
        out[key.strip()] = value
    return out


@main.command("message")
@click.argument("name")
@click.option("--case", "case_key", default=None, help="The case to deliver to (its key).")
@click.option("--correlate", "pairs", multiple=True, metavar="K=V",
              help="A case data field the receiving case must have with this value; repeat for several.")
@click.option("--data", default=None, help="The payload: a JSON object of case data fields.")
@click.option("--idempotency-key", default=None, help="Deliver at most once per key.")
@database_option
def message_command(name: str, case_key: str | None, pairs: tuple[str, ...], data: str | None,
                    idempotency_key: str | None) -> None:
    """Deliver message NAME (same rules as POST /api/v1/messages); the system is the sender."""
    from engine.cases import messages

    try:
        with transaction() as session:
            delivery = messages.send_message(session, name, case=case_key, correlation=_pairs(pairs) or None,
                                             data=_json_object(data), idempotency_key=idempotency_key, actor=None)
            key, started, repeated = delivery.case.key, delivery.started, delivery.repeated
    except EngineError as err:
        report_error(err)
        sys.exit(1)
    said = "started" if started else "delivered to"
    click.echo(f"{name}: {said} {key}" + (" (already delivered with this key)" if repeated else ""))


@main.command("signal")
@click.argument("name")
@click.option("--data", default=None, help="The payload: a JSON object of case data fields.")
@database_option
def signal_command(name: str, data: str | None) -> None:
    """Broadcast signal NAME to every open case waiting for it."""
    from engine.cases import messages

    try:
        with transaction() as session:
            keys = [c.key for c in messages.broadcast_signal(session, name, data=_json_object(data), actor=None)]
    except EngineError as err:
        report_error(err)
        sys.exit(1)
    click.echo(f"{name}: delivered to {len(keys)} case(s)" + (f": {', '.join(keys)}" if keys else ""))
