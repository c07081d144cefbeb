"""The pages' forms come from the engine's field-type registry: one list of types, two uses."""
from __future__ import annotations

import pytest
from wtforms import BooleanField, DateTimeLocalField, SelectField, StringField, TextAreaField

from engine.errors import InvalidData
from engine.processes.forms import FIELD_TYPES, Field, Form, validate_form
from webui.pages import forms


def test_every_field_type_has_an_input_on_the_pages():
    assert {t.widget for t in FIELD_TYPES.values()} == set(forms.WIDGETS)


def test_a_form_schema_becomes_inputs_with_its_labels_bounds_and_choices(app):
    schema = Form((
        Field("summary", "Summary", "string", required=True, min=3, max=10),
        Field("details", "Details", "text"),
        Field("count", "Count", "integer", min=1, max=5),
        Field("urgent", "Urgent", "boolean", default=True),
        Field("when", "When", "datetime"),
        Field("impact", "Impact", "enum", choices=(("high", "High"), ("low", "Low"))),
    ))
    with app.test_request_context(method="POST", data={"summary": "ab", "count": "9", "impact": "high"}):
        form = forms.schema_form(schema.fields, meta={"csrf": False})
        assert isinstance(form.summary, StringField) and isinstance(form.details, TextAreaField)
        assert isinstance(form.urgent, BooleanField) and form.urgent.default is True
        assert isinstance(form.when, DateTimeLocalField) and isinstance(form.impact, SelectField)
        assert [c.value for c in form.impact.choices] == ["", "high", "low"]  # not required: a blank first
        assert not form.validate()
        # the string's min/max bound its length on the page as in the engine; the integer's its value
        assert form.summary.errors and form.count.errors and not form.impact.errors
    with pytest.raises(InvalidData) as refused:
        validate_form(schema, {"summary": "ab", "count": "9"})
    assert set(refused.value.details) == {"summary", "count"}
