"""WTForms for the pages: fixed forms, and forms generated from a BPMN form schema.

A BPMN form (``camunda:formData``) becomes a WTForms form with the same field ids, labels
(``label_zh`` in Chinese when the BPMN has one), required marks, enum choices and
date pickers; WTForms checks types and limits so errors show on each field, and the
engine checks the cleaned data again (it is the authority, the form is the convenience).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import MultipleFileField
from wtforms import (
    BooleanField,
    DateField,
    DateTimeLocalField,
    FloatField,
    HiddenField,
    IntegerField,
    PasswordField,
    SelectChoice,
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

from engine.processes.forms import Field, FieldType, field_type
from webui.i18n import display_zone, html_lang, localized, say


def choices(pairs: Iterable[tuple[str, Any]]) -> list[SelectChoice]:
    """Declare select options as WTForms 3.3 wants them.

    A label stays as given: a lazy one (`_l`) in a form's class is turned into text when the option
    is rendered, in the reader's language. Made text here, at import, it was English for everyone."""
    return [SelectChoice(v, label) for v, label in pairs]

DECISIONS = ("approve", "reject", "rework")


def _choice_field(field: Field, options: dict[str, Any]) -> Any:
    chinese = dict(field.choices_zh)
    pairs = [(str(value), localized(label, chinese.get(value))) for value, label in field.choices]
    if not field.required:
        pairs.insert(0, ("", "—"))
    return SelectField(choices=choices(pairs), **options)


def _checkbox(field: Field, options: dict[str, Any]) -> Any:
    default = field.default
    options["default"] = str(default).lower() in ("true", "1", "yes") if default is not None else False
    return BooleanField(**options)


# One input per widget of the engine's field types (engine.processes.forms.FIELD_TYPES);
# tests/webui check that every widget there has one here.
WIDGETS: dict[str, Callable[[Field, dict[str, Any]], Any]] = {
    "line": lambda _f, options: StringField(**options),
    "text": lambda _f, options: TextAreaField(**options),
    "integer": lambda _f, options: IntegerField(**options),
    "number": lambda _f, options: FloatField(**options),
    "checkbox": _checkbox,
    "date": lambda _f, options: DateField(**options),
    "datetime": lambda _f, options: DateTimeLocalField(format=["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S"], **options),
    "choice": _choice_field,
}


def _validators(field: Field, kind: FieldType) -> list[Any]:
    numeric = kind.bounds == "value"
    first = (InputRequired() if numeric and field.required
             else DataRequired() if field.required and kind.widget != "checkbox" else Optional())
    validators: list[Any] = [first]
    if field.min is not None or field.max is not None:
        if numeric:
            validators.append(NumberRange(min=field.min, max=field.max))
        elif kind.bounds == "length":
            validators.append(Length(min=int(field.min) if field.min is not None else -1,
                                     max=int(field.max) if field.max is not None else -1))
    return validators


def _field_for(field: Field) -> Any:
    """Build one unbound WTForms field from one BPMN form field."""
    kind = field_type(field.type)
    options: dict[str, Any] = {"label": localized(field.label or field.name, field.label_zh),
                               "validators": _validators(field, kind), "default": field.default}
    if kind.widget in ("date", "datetime"):
        # The browser draws the picker; lang asks it to follow the page's language where it can,
        # and the hint says the order and the zone in the reader's language whatever it draws.
        options["render_kw"] = {"lang": html_lang()}
        options["description"] = (_("Year-month-day, hour:minute, in %(zone)s", zone=display_zone().key)
                                  if kind.widget == "datetime" else _("Year-month-day"))
    return WIDGETS[kind.widget](field, options)


def schema_form(fields: Iterable[Field], *, title: bool = False, attachments: bool = False,
                suggestions: dict[str, Any] | None = None, **kwargs: Any) -> FlaskForm:
    """Build and bind a form for a BPMN form schema (start form or task form). A text field
    named in `suggestions` offers them as a search-as-you-type list (`<datalist id=NAME-options>`,
    which the page renders)."""

    class SchemaForm(FlaskForm):
        pass

    names: list[str] = []
    if title:
        SchemaForm.title = StringField(_l("Title"), validators=[DataRequired(), Length(max=300)])
        names.append("title")
    for field in fields:
        unbound = _field_for(field)
        if suggestions and field.name in suggestions:
            unbound.kwargs["render_kw"] = {"list": f"{field.name}-options", "autocomplete": "off"}
        setattr(SchemaForm, field.name, unbound)
        names.append(field.name)
    if attachments:
        SchemaForm.attachments = MultipleFileField(_l("Attachments"))
    form = SchemaForm(**kwargs)
    form.schema_names = [n for n in names if n != "title"]  # type: ignore[attr-defined]
    return form


def is_gate(fields: Iterable[Field]) -> bool:
    """Tell whether a task form is an approval gate (it has a decision field)."""
    return any(f.name == "decision" for f in fields)


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
    """Put the engine's per-field messages on the form's fields, in the reader's language
    (webui.i18n.say); return the ones without a field."""
    leftover: list[str] = []
    if isinstance(details, dict):
        for name, messages in details.items():
            items = [say(m) for m in ([messages] if isinstance(messages, str) else list(messages))]
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
    # A browser sends no field for an unticked checkbox or an empty multi-select, so "active" and
    # "groups" absent could mean "off" or "never sent". This marker, always in the page's form,
    # tells them apart: a post without it changes nothing (it would deactivate the user).
    whole_form = HiddenField(default="1", validators=[InputRequired(
        message=_l("The form arrived incomplete and nothing was saved: reload the page and save again."))])


class GroupForm(FlaskForm):
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=120)])
    description = StringField(_l("Description"), validators=[Optional(), Length(max=300)])


class TokenForm(FlaskForm):
    user = SelectField(_l("User"), choices=[], validators=[DataRequired()])
    name = StringField(_l("Token name"), validators=[Optional(), Length(max=120)])
    expires_in_days = IntegerField(_l("Expires after (days)"), validators=[Optional(), NumberRange(min=1, max=3650)],
                                   description=_l("Leave empty for a token that does not expire."))
    read_only = BooleanField(_l("Read only (may only read: for monitoring dashboards)"))


class ProviderForm(FlaskForm):
    name = StringField(_l("Provider"), validators=[DataRequired(), Length(max=120)])
    systems = StringField(_l("Systems"), validators=[Optional()],
                          description=_l("Comma-separated; each system belongs to one provider."))


WEBHOOK_EVENTS = [("case.opened", _l("Case opened")), ("case.escalated", _l("Case escalated")),
                  ("case.closed", _l("Case closed")), ("task.ready", _l("Task ready")),
                  ("sla.warning", _l("SLA warning"))]
WEBHOOK_PRESETS = [("generic", _l("Generic JSON (signed)")), ("wecom", _l("WeCom group robot")),
                   ("dingtalk", _l("DingTalk custom robot")), ("slack", _l("Slack-compatible incoming webhook"))]


class WebhookForm(FlaskForm):
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=120)])
    url = StringField(_l("URL"), validators=[DataRequired(), Length(max=2000)],
                      description=_l("The receiver's http:// or https:// address (chat robots: the whole hook URL)."))
    events = SelectMultipleField(_l("Events"), choices=choices(WEBHOOK_EVENTS), validators=[DataRequired()])
    preset = SelectField(_l("Body"), choices=choices(WEBHOOK_PRESETS), default="generic")
    secret = PasswordField(_l("Signing secret"), validators=[Optional(), Length(max=500)],
                           description=_l("Required for generic JSON (at least 16 characters); "
                                          "for DingTalk, the robot's 加签 secret. Stored encrypted."),
                           render_kw={"autocomplete": "new-password"})


class MigrateForm(FlaskForm):
    """Move open cases of a process to another version (the dry run is the same form, checked first)."""

    to_version = SelectField(_l("Move to version"), choices=[], validators=[DataRequired()])
    from_version = SelectField(_l("Cases on version"), choices=[], validators=[Optional()])
    cases = StringField(_l("Only these cases"), validators=[Optional(), Length(max=4000)],
                        description=_l("Case keys separated by spaces; empty: every open case."))
    mapping = TextAreaField(_l("Element mapping"), validators=[Optional(), Length(max=4000)],
                            description=_l("One per line: an element of the cases' version = its counterpart "
                                           "in the target version, e.g. triage=assess."))


class ReviewForm(FlaskForm):
    """A second process owner's decision on a proposed version."""

    decision = SelectField(_l("Decision"), choices=choices([("approve", _l("Approve: put it live")),
                                                            ("reject", _l("Reject"))]), validators=[DataRequired()])
    comment = TextAreaField(_l("Comment"), validators=[DataRequired(), Length(max=4000)])


class PutLiveForm(FlaskForm):
    """An admin puts a proposed version live without a review (an emergency)."""

    reason = TextAreaField(_l("Why it cannot wait for a review"), validators=[DataRequired(), Length(max=4000)])
