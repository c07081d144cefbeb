"""The OMG MIWG reference models (tests/data/miwg, a copy of ../shared/corpus/miwg), file by file (#16).

Each file either deploys (and then a case of it starts) or is refused with the reason the table
names, and is then kept and listed as a descriptive model. docs/bpmn.md, "BPMN from other tools",
gives the figures.
"""
from __future__ import annotations

import pytest
from sqlalchemy import select

from engine.cases import services
from engine.errors import InvalidDefinition
from engine.processes import deployment, descriptive
from models import HumanTask
from tests.engine.interop_helpers import DATA, person

MIWG = DATA / "miwg"
NOT_EXECUTABLE = "no executable process"
NO_CONDITION = "[conditional-flows]"
SERVICE = "has no implementation opsgate can run"

# file -> None (deploys, and a case starts) or the start of the first reason it is refused
EXPECTED: dict[str, str | None] = {
    "A.1.0.bpmn": NOT_EXECUTABLE, "A.2.0.bpmn": NO_CONDITION, "A.2.1.bpmn": NOT_EXECUTABLE,
    "A.3.0.bpmn": NOT_EXECUTABLE, "A.4.0.bpmn": NOT_EXECUTABLE, "A.4.1.bpmn": NOT_EXECUTABLE,
    "B.1.0.bpmn": NO_CONDITION, "B.2.0.bpmn": NO_CONDITION,
    "C.1.0.bpmn": "service task archiveInvoice (Archive Invoice) " + SERVICE,
    "C.1.1.bpmn": "service task archiveInvoice (Archive Invoice) " + SERVICE,
    "C.2.0.bpmn": NO_CONDITION, "C.3.0.bpmn": NO_CONDITION, "C.4.0.bpmn": NO_CONDITION, "C.5.0.bpmn": NO_CONDITION,
    "C.6.0.bpmn": NOT_EXECUTABLE, "C.7.0.bpmn": NO_CONDITION, "C.8.0.bpmn": NOT_EXECUTABLE,
    "C.8.1.bpmn": "service task _2b960d84-feb1-46a9-a1a1-c300dd996b99 (Fetch Vacation Information) " + SERVICE,
    "C.9.0.bpmn": "service task ServiceTask_CancelApplication (Cancel application) " + SERVICE,
    "C.9.1.bpmn": "send task SendTask_RequestDocument (Request document) is a Camunda external task",
    "C.9.2.bpmn": "A multiinstance task must specify a cardinality or a loop input data reference",
}


def test_the_table_covers_the_corpus():
    assert sorted(EXPECTED) == sorted(p.name for p in MIWG.glob("*.bpmn"))


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_each_file_deploys_or_is_viewable_as_a_descriptive_model(session, name):
    owner = person(session, "owner", "process_owner", "admin", "requester")
    source = (MIWG / name).read_bytes()
    expected = EXPECTED[name]
    if expected is None:
        results = deployment.deploy(session, [(name, source)], actor=owner)
        case = services.start_case(session, results[0].key, {}, actor=owner)
        ready = session.scalars(select(HumanTask.element_id).where(HumanTask.case_id == case.id)).all()
        assert case.status == "closed" or ready
        return
    with pytest.raises(InvalidDefinition) as refused:
        deployment.deploy(session, [(name, source)], actor=owner)
    assert refused.value.details[0]["message"].startswith(expected)
    model, created = descriptive.save_model(session, name, source, actor=owner)
    assert created and model.reasons[0]["message"].startswith(expected)
    assert model in descriptive.list_models(session)
    assert descriptive.save_model(session, name, source, actor=owner) == (model, False)
