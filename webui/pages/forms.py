"""WTForms for the pages: fixed forms, and forms generated from a BPMN form schema.

A BPMN form (``camunda:formData``) becomes a WTForms form with the same field ids, labels
(``label_zh`` in Chinese when the BPMN has one), required marks, enum choices and
date pickers; WTForms checks types and limits so errors show on each field, and the
engine checks the cleaned data again (it is the authority, the form is the convenience).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import MultipleFileField
from wtforms import (
    BooleanField,
    DateField,
    DateTimeLocalField,
    FloatField,
    IntegerField,
    PasswordField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.validators import (
    DataRequired,
    InputRequired,
    Length,
    NumberRange,
    Optional,
)

from webui.i18n import display_zone, localized

try:  # WTForms 3.3 declares options as SelectChoice; older versions take (value, label) pairs
    from wtforms import SelectChoice
except ImportError:  # pragma: no cover - WTForms < 3.3
    SelectChoice = None


def choices(pairs: Iterable[tuple[str, Any]]) -> list[Any]:
    """Declare select options the way the installed WTForms wants them."""
    return [SelectChoice(v, str(label)) if SelectChoice else (v, label) for v, label in pairs]

DECISIONS = ("approve", "reject", "rework")


def _get(field: Any, name: str, default: Any = None) -> Any:
    """Read a schema attribute from a dataclass or a dict alike."""
    if isinstance(field, dict):
        return field.get(name, default)
    return getattr(field, name, default)


def _field_for(spec: Any) -> Any:
    """Build one unbound WTForms field from one BPMN form field."""
    kind = _get(spec, "type", "string") or "string"
    required = bool(_get(spec, "required", False))
    label = localized(_get(spec, "label") or _get(spec, "name") or _get(spec, "id"), _get(spec, "label_zh"))
    validators: list[Any] = [InputRequired() if kind in ("integer", "number") and required
                             else DataRequired() if required and kind != "boolean" else Optional()]
    low, high = _get(spec, "min"), _get(spec, "max")
    if kind in ("integer", "number") and (low is not None or high is not None):
        validators.append(NumberRange(min=low, max=high))
    if kind in ("string", "text"):
        shortest, longest = _get(spec, "minlength"), _get(spec, "maxlength")
        if shortest is not None or longest is not None:
            validators.append(Length(min=shortest if shortest is not None else -1,
                                     max=longest if longest is not None else -1))
    default = _get(spec, "default")
    options: dict[str, Any] = {"label": label, "validators": validators, "default": default}
    if kind == "text":
        return TextAreaField(**options)
    if kind == "integer":
        return IntegerField(**options)
    if kind == "number":
        return FloatField(**options)
    if kind == "boolean":
        options["default"] = str(default).lower() in ("true", "1", "yes") if default is not None else False
        return BooleanField(**options)
    if kind == "date":
        return DateField(**options)
    if kind == "datetime":
        return DateTimeLocalField(format=["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S"], **options)
    if kind == "enum":
        pairs = [(str(value), label) for value, label in (_get(spec, "choices") or [])]
        if not required:
            pairs.insert(0, ("", "—"))
        return SelectField(choices=choices(pairs), **options)
    return StringField(**options)


def schema_form(fields: Iterable[Any], *, title: bool = False, attachments: bool = False,
                **kwargs: Any) -> FlaskForm:
    """Build and bind a form for a BPMN form schema (start form or task form)."""

    class SchemaForm(FlaskForm):
        pass

    names: list[str] = []
    if title:
        SchemaForm.title = StringField(_l("Title"), validators=[DataRequired(), Length(max=300)])
        names.append("title")
    for spec in fields:
        name = _get(spec, "name") or _get(spec, "id")
        setattr(SchemaForm, name, _field_for(spec))
        names.append(name)
    if attachments:
        SchemaForm.attachments = MultipleFileField(_l("Attachments"))
    form = SchemaForm(**kwargs)
    form.schema_names = [n for n in names if n != "title"]  # type: ignore[attr-defined]
    return form


def is_gate(fields: Iterable[Any]) -> bool:
    """Tell whether a task form is an approval gate (it has a decision field)."""
    return any((_get(f, "name") or _get(f, "id")) == "decision" for f in fields)


def cleaned(form: FlaskForm) -> dict[str, Any]:
    """Return the schema fields' values as JSON-ready data (dates as ISO strings, blanks left out).

    A date-time typed into a page is a time in the display zone (config TIMEZONE); it is
    sent on with its offset, and the engine keeps it in UTC."""
    data: dict[str, Any] = {}
    for name in form.schema_names:  # type: ignore[attr-defined]
        value = form[name].data
        if isinstance(value, dt.datetime) and value.tzinfo is None:
            value = value.replace(tzinfo=display_zone())
        if isinstance(value, (dt.date, dt.datetime)):
            value = value.isoformat()
        if value is None or value == "":
            continue
        data[name] = value
    return data


def apply_errors(form: FlaskForm, details: Any) -> list[str]:
    """Put the engine's per-field messages on the form's fields; return the ones without a field."""
    leftover: list[str] = []
    if isinstance(details, dict):
        for name, messages in details.items():
            items = [messages] if isinstance(messages, str) else list(messages)
            if name in form:
                form[name].errors = list(form[name].errors) + items
            else:
                leftover.extend(f"{name}: {m}" for m in items)
    return leftover


class LoginForm(FlaskForm):
    name = StringField(_l("User name"), validators=[DataRequired()], render_kw={"autocomplete": "username", "autofocus": True})  # noqa: E501 - a literal kept on one line
    password = PasswordField(_l("Password"), validators=[DataRequired()], render_kw={"autocomplete": "current-password"})


class AuditSearchForm(FlaskForm):
    """The auditor's search; a GET form, so no CSRF token."""

    class Meta:
        csrf = False

    date_from = DateField(_l("From"), validators=[Optional()])
    date_to = DateField(_l("To"), validators=[Optional()])
    actor = StringField(_l("Actor"), validators=[Optional()])
    type = SelectField(_l("Event type"), validators=[Optional()], choices=choices([("", "—")]))
    process_key = SelectField(_l("Process"), validators=[Optional()], choices=choices([("", "—")]))
    case = StringField(_l("Case"), validators=[Optional()])


class NewUserForm(FlaskForm):
    name = StringField(_l("Login"), validators=[DataRequired(), Length(max=120)])
    display_name = StringField(_l("Full name"), validators=[Optional(), Length(max=200)])
    email = StringField(_l("E-mail"), validators=[Optional(), Length(max=200)])
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(min=10)])
    groups = SelectMultipleField(_l("Groups"), choices=[])


class EditUserForm(FlaskForm):
    display_name = StringField(_l("Full name"), validators=[Optional(), Length(max=200)])
    email = StringField(_l("E-mail"), validators=[Optional(), Length(max=200)])
    password = PasswordField(_l("New password"), validators=[Optional(), Length(min=10)],
                             description=_l("Leave empty to keep the current password."))
    groups = SelectMultipleField(_l("Groups"), choices=[])
    active = BooleanField(_l("Active (may log in)"))


class GroupForm(FlaskForm):
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=120)])
    description = StringField(_l("Description"), validators=[Optional(), Length(max=300)])


class TokenForm(FlaskForm):
    user = SelectField(_l("User"), choices=[], validators=[DataRequired()])
    name = StringField(_l("Token name"), validators=[Optional(), Length(max=120)])


class ProviderForm(FlaskForm):
    name = StringField(_l("Provider"), validators=[DataRequired(), Length(max=120)])
    systems = StringField(_l("Systems"), validators=[Optional()],
                          description=_l("Comma-separated; each system belongs to one provider."))
