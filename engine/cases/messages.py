"""Messages and signals from outside (#16): `POST /messages`, `POST /signals`, `opsgate message`.

A **message** goes to exactly one receiver:

* an open case waiting for it (a message catch event, a receive task, a message boundary event,
  an event-based gateway's message branch), found through the `event_wait` projection and
  narrowed by the case key (`case`) and/or **correlation** values: case data fields that must
  equal the given values (compared as text, so `42` matches `"42"`);
* else, when no case is named, a process whose start event is a message start event for it:
  a new case starts there, its data checked against the process's start form.

No receiver: NotFound (404). More than one waiting case, or more than one process starting on it:
Conflict (409) naming them, so the sender can narrow. The payload (`data`) becomes case data
when the catching element runs. An `idempotency_key` makes a resend harmless: the first answer
is stored (`message_receipt`) and given again, nothing is delivered twice.

A **signal** is broadcast: every open case waiting for it gets it; the answer is how many did.

Who may send: staff (any group besides `requester`), not an auditor. Each delivery is audited on
the case as `message_received` / `signal_received` with the name, the payload and the key.
"""
from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.cases import events, persistence, queries, services, stepping
from engine.errors import Conflict, InvalidData, NotAllowed, NotFound, said
from engine.people import roles
from engine.processes import catalog, specs
from engine.records import audit
from engine.timing import clock
from models import Case, EventWait, MessageReceipt, ProcessDefinition, User

log = logging.getLogger(__name__)

MAX_NAME = 200


@dataclass(frozen=True)
class Delivery:
    """Where a message went: the case, whether it started there, and whether this was a repeat."""

    case: Case
    started: bool
    repeated: bool = False


def _check_sender(actor: User | None) -> None:
    if actor is None:
        return
    roles.check_may_write(actor)
    if not roles.staff_groups(actor):
        raise NotAllowed(said("role: messages and signals are sent by staff and integrations, not by requesters"))


def _clean(name: Any, data: Any, correlation: Any = None, idempotency_key: Any = None) -> tuple[str, dict[str, Any],
                                                                                               dict[str, Any]]:
    problems: dict[str, list[str]] = {}
    if not isinstance(name, str) or not name.strip() or len(name) > MAX_NAME:
        problems["name"] = [said("must be the message or signal name (text, 1 to %(n)s characters)", n=MAX_NAME)]
    if data is not None and not isinstance(data, Mapping):
        problems["data"] = [said("must be an object of case data fields")]
    elif data and services.RESERVED & set(data):
        problems["data"] = [said("%(fields)s is set by the engine",
                                 fields=", ".join(sorted(services.RESERVED & set(data))))]
    if correlation is not None and (not isinstance(correlation, Mapping) or not all(
            isinstance(v, str | int | float | bool) for v in correlation.values())):
        problems["correlation"] = [said("must be an object of case data fields and the plain values they must have")]
    if idempotency_key is not None and (not isinstance(idempotency_key, str) or not 0 < len(idempotency_key) <= 200):
        problems["idempotency_key"] = [said("must be text of 1 to %(n)s characters", n=200)]
    if problems:
        raise InvalidData(said("invalid message"), problems)
    return str(name).strip(), dict(data or {}), dict(correlation or {})


def _matches(case: Case, correlation: Mapping[str, Any]) -> bool:
    data = case.data or {}
    return all(k in data and str(data[k]) == str(v) for k, v in correlation.items())


def _waiting_cases(session: Session, kind: str, name: str, case_ref: str | None) -> list[Case]:
    waiting = select(EventWait.case_id).where(EventWait.kind == kind, EventWait.name == name)
    query = select(Case).where(Case.id.in_(waiting), Case.status == "open").order_by(Case.id)
    if case_ref is not None:
        wanted = queries.find_case(session, case_ref)
        query = query.where(Case.id == wanted.id)
    return list(session.scalars(query))


def _deliver(session: Session, case: Case, kind: str, name: str, payload: dict[str, Any], *,
             actor: User | None, idempotency_key: str | None = None) -> None:
    instance = persistence.open_instance(session, case)
    elements = events.deliver(instance.workflow, kind, name, payload)
    if not elements:  # the projection said it waits: only a concurrent action can have taken the event
        raise Conflict(said("case %(case)s stopped waiting for %(what)s meanwhile; send it again", case=case.key,
                            what=said("message %(name)s", name=repr(name)) if kind == "message" else
                            said("signal %(name)s", name=repr(name))))
    stepping.step(instance)
    data: dict[str, Any] = {"name": name, "elements": elements, "data": payload}
    if idempotency_key:
        data["idempotency_key"] = idempotency_key
    audit.append(session, case, actor=actor, type=f"{kind}_received", task=elements[0], data=data)
    persistence.save(session, instance, actor=actor)
    services.flush(session)


def _starters(session: Session, name: str) -> list[ProcessDefinition]:
    """The live processes a message `name` starts (a message start event)."""
    return [d for d in catalog.list_definitions(session) if name in specs.manifest_of(d).message_starts]


@services.race_safe
def send_message(session: Session, name: Any, *, actor: User | None, case: str | None = None,
                 correlation: Any = None, data: Any = None, idempotency_key: Any = None) -> Delivery:
    """Deliver a message to the one case waiting for it, or start a case at a message start event."""
    _check_sender(actor)
    name, payload, correlation = _clean(name, data, correlation, idempotency_key)
    if idempotency_key is not None:
        receipt = session.get(MessageReceipt, idempotency_key)
        if receipt is not None:
            if receipt.name != name:
                raise Conflict(said("idempotency key %(key)s was used for message %(name)s", key=repr(idempotency_key),
                                    name=repr(receipt.name)))
            return Delivery(queries.find_case(session, receipt.case_key), receipt.started, repeated=True)
    waiting = [c for c in _waiting_cases(session, "message", name, case) if _matches(c, correlation)]
    if len(waiting) > 1:
        keys = ", ".join(c.key for c in waiting[:5]) + (" ..." if len(waiting) > 5 else "")
        raise Conflict(said("%(n)s cases wait for message %(name)s (%(cases)s): name the case or give correlation "
                            "values that pick one", n=len(waiting), name=repr(name), cases=keys))
    if waiting:
        target, started = waiting[0], False
        _deliver(session, target, "message", name, payload, actor=actor, idempotency_key=idempotency_key)
    else:
        target, started = _start(session, name, payload, correlation, case, actor=actor,
                                 idempotency_key=idempotency_key), True
    if idempotency_key is not None:
        session.add(MessageReceipt(idempotency_key=idempotency_key, name=name, case_key=target.key, started=started,
                                   received_at=clock.now()))
        services.flush(session)
    log.info("message %s delivered to %s%s", name, target.key, " (started)" if started else "")
    return Delivery(target, started)


def _start(session: Session, name: str, payload: dict[str, Any], correlation: Mapping[str, Any], case: str | None,
           *, actor: User | None, idempotency_key: str | None) -> Case:
    what = said("message %(name)s", name=repr(name))
    if case is not None:
        raise NotFound(said("case %(case)s is not waiting for %(what)s", case=queries.find_case(session, case).key,
                            what=what))
    if correlation:
        raise NotFound(said("no open case with %(values)s waits for %(what)s",
                            values=", ".join(f"{k}={v}" for k, v in correlation.items()), what=what))
    starters = _starters(session, name)
    if not starters:
        raise NotFound(said("no open case waits for %(what)s, and no process starts with it", what=what))
    if len(starters) > 1:
        raise Conflict(said("%(what)s starts %(n)s processes (%(processes)s): a message start event's name must pick "
                            "one process", what=what, n=len(starters), processes=", ".join(d.key for d in starters)))
    return services.start_case(session, starters[0].key, payload, actor=actor, message=name,
                               message_key=idempotency_key)


@services.race_safe
def broadcast_signal(session: Session, name: Any, *, actor: User | None, data: Any = None) -> list[Case]:
    """Deliver a signal to every open case waiting for it; return those cases."""
    _check_sender(actor)
    name, payload, _c = _clean(name, data)
    cases = _waiting_cases(session, "signal", name, None)
    for each in cases:
        _deliver(session, each, "signal", name, payload, actor=actor)
    log.info("signal %s delivered to %d cases", name, len(cases))
    return cases
