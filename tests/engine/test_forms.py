"""Form validation: typed values out, one message per bad field, nothing else accepted."""
from __future__ import annotations

import pytest

from engine.errors import InvalidData
from engine.processes.forms import Field, Form, validate_form

FORM = Form((
    Field("title", "Title", "string", required=True, max=20),
    Field("count", "Count", "integer", min=1, max=10),
    Field("ratio", "Ratio", "number"),
    Field("urgent", "Urgent", "boolean"),
    Field("due", "Due", "date"),
    Field("at", "At", "datetime"),
    Field("level", "Level", "enum", choices=(("low", "Low"), ("high", "High"))),
))


def test_values_are_typed():
    out = validate_form(FORM, {"title": " Disk full ", "count": "3", "ratio": "0.5", "urgent": "yes",
                               "due": "2026-12-31", "at": "2026-12-31T09:00:00+08:00", "level": "high"})
    assert out == {"title": "Disk full", "count": 3, "ratio": 0.5, "urgent": True, "due": "2026-12-31",
                   "at": "2026-12-31T01:00:00+00:00", "level": "high"}


def test_each_bad_field_gets_its_message():
    with pytest.raises(InvalidData) as info:
        validate_form(FORM, {"title": "x" * 21, "count": "11", "ratio": "nan", "urgent": "perhaps",
                             "due": "31/12/2026", "at": "tomorrow", "level": "urgent", "extra": 1})
    assert info.value.details == {
        "title": ["Title must be at most 20 characters"], "count": ["Count must be at most 10"],
        "ratio": ["Ratio must be a finite number"], "urgent": ["Urgent must be true or false"],
        "due": ["Due must be a date like 2026-12-31"],
        "at": ["At must be a date and time like 2026-12-31T09:00:00Z"],
        "level": ["Level must be one of: low, high"], "extra": ["is not a field of this form"]}


def test_required_and_wrong_shapes():
    with pytest.raises(InvalidData) as info:
        validate_form(FORM, {"title": "  ", "count": True, "ratio": [1]})
    assert info.value.details == {"title": ["Title is required"], "count": ["Count must be a whole number"],
                                  "ratio": ["Ratio must be a number"]}
    with pytest.raises(InvalidData):
        validate_form(FORM, ["not", "an", "object"])


def test_gate_comment_required_on_reject_and_rework():
    gate = Form((Field("decision", "Decision", "enum", required=True,
                       choices=(("approve", "Approve"), ("reject", "Reject"), ("rework", "Rework"))),
                 Field("comment", "Comment", "text")))
    assert gate.is_gate
    assert validate_form(gate, {"decision": "approve"}) == {"decision": "approve"}
    for decision in ("reject", "rework"):
        with pytest.raises(InvalidData) as info:
            validate_form(gate, {"decision": decision, "comment": " "})
        assert list(info.value.details) == ["comment"]
