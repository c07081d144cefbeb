"""Form schemas read from BPMN (camunda:formData) and the validation of submitted data."""
from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from engine.errors import InvalidData, Name, Said, said

# What Camunda Modeler writes, read as ours.
TYPE_ALIASES = {"long": "integer", "double": "number", "float": "number", "int": "integer", "textarea": "text"}
GATE_DECISIONS = ("approve", "reject", "rework")
MAX_STRING = 2000
MAX_TEXT = 20000
_IDENT = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")


@dataclass(frozen=True)
class Field:
    """One form field, as the task form and the API's `form.fields` describe it."""

    name: str
    label: str
    type: str = "string"
    required: bool = False
    choices: tuple[tuple[str, str], ...] = ()
    default: Any = None
    min: float | None = None
    max: float | None = None
    label_zh: str | None = None
    readonly: bool = False
    # Chinese names of choices, where the BPMN gives them (field property `choice_zh:VALUE`).
    choices_zh: tuple[tuple[str, str], ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """Describe the field for JSON clients (a choice's `label_zh` only where there is one)."""
        out = asdict(self)
        chinese = dict(self.choices_zh)
        out["choices"] = [{"value": v, "label": label, **({"label_zh": chinese[v]} if v in chinese else {})}
                          for v, label in self.choices]
        del out["choices_zh"]
        return out

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> Field:
        """Rebuild a field from its manifest form."""
        raw = dict(raw)
        listed = raw.get("choices", ())
        raw["choices"] = tuple((c["value"], c["label"]) for c in listed)
        raw["choices_zh"] = tuple((c["value"], c["label_zh"]) for c in listed if c.get("label_zh"))
        return cls(**raw)

    def choice_label(self, value: Any) -> tuple[str, str | None]:
        """The name and Chinese name of one of the field's choices (the value itself if unknown)."""
        text = str(value)
        label = next((label for v, label in self.choices if v == text), text)
        return label, dict(self.choices_zh).get(text)


@dataclass(frozen=True)
class Form:
    fields: tuple[Field, ...] = field(default_factory=tuple)

    @property
    def is_gate(self) -> bool:
        """An approval gate is a form with a `decision` field."""
        return any(f.name == "decision" for f in self.fields)

    def to_dict(self) -> dict[str, Any]:
        return {"fields": self.to_list()}

    def to_list(self) -> list[dict[str, Any]]:
        """The fields as a manifest stores them."""
        return [f.to_dict() for f in self.fields]

    @classmethod
    def from_list(cls, raw: list[dict[str, Any]] | None) -> Form:
        return cls(tuple(Field.from_dict(r) for r in raw or ()))


def check_field_name(name: str) -> str | None:
    """Say why `name` cannot be a form field id, or None."""
    if not _IDENT.match(name or ""):
        return said("field id %(field)s must be a Python identifier starting with a letter", field=repr(name))
    return None


def _text(f: Field, value: Any, limit: int) -> str:
    if not isinstance(value, (str, int, float)) or isinstance(value, bool):
        raise ValueError(said("must be text"))
    text = str(value).strip()
    if len(text) > limit:
        raise ValueError(said("must be at most %(n)s characters", n=limit))
    if f.min is not None and len(text) < f.min:
        raise ValueError(said("must be at least %(n)s characters", n=int(f.min)))
    if f.max is not None and len(text) > f.max:
        raise ValueError(said("must be at most %(n)s characters", n=int(f.max)))
    return text


def _number(f: Field, value: Any, convert: Callable[[str], float], what: Said) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, str, float)):
        raise ValueError(what)
    try:
        number = convert(str(value).strip())
    except ValueError:
        raise ValueError(what) from None
    if number != number or number in (float("inf"), float("-inf")):
        raise ValueError(said("must be a finite number"))
    if f.min is not None and number < f.min:
        raise ValueError(said("must be at least %(n)s", n=f"{f.min:g}"))
    if f.max is not None and number > f.max:
        raise ValueError(said("must be at most %(n)s", n=f"{f.max:g}"))
    return number


def _boolean(_f: Field, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "1", "yes", "on", "y"):
        return True
    if text in ("false", "0", "no", "off", "n"):
        return False
    raise ValueError(said("must be true or false"))


def _date(_f: Field, value: Any) -> str:
    try:
        return dt.date.fromisoformat(str(value).strip()).isoformat()
    except ValueError:
        raise ValueError(said("must be a date like 2026-12-31")) from None


def _datetime(_f: Field, value: Any) -> str:
    try:
        moment = dt.datetime.fromisoformat(str(value).strip().replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(said("must be a date and time like 2026-12-31T09:00:00Z")) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.timezone.utc)
    return moment.astimezone(dt.timezone.utc).isoformat()


def _choice(f: Field, value: Any) -> str:
    allowed = [v for v, _ in f.choices]
    if str(value) not in allowed:
        raise ValueError(said("must be one of: %(choices)s", choices=", ".join(allowed)))
    return str(value)


@dataclass(frozen=True)
class FieldType:
    """One form field type: how a submitted value is checked and converted (`parse`, which
    raises ValueError with the message), what `min`/`max` bound (`bounds`: the text's length,
    the number's value, or nothing), and which input a page shows (`widget`; webui maps each
    widget to a WTForms field, and a test holds the two in step)."""

    name: str
    widget: str
    parse: Callable[[Field, Any], Any]
    bounds: str | None = None  # "length" | "value" | None


# The field types of a form schema (CONTRACT.md, "Field types"): the engine validates with
# them, and the pages render from them.
FIELD_TYPES: dict[str, FieldType] = {t.name: t for t in (
    FieldType("string", "line", lambda f, v: _text(f, v, MAX_STRING), "length"),
    FieldType("text", "text", lambda f, v: _text(f, v, MAX_TEXT), "length"),
    FieldType("integer", "integer", lambda f, v: int(_number(f, v, int, said("must be a whole number"))), "value"),
    FieldType("number", "number", lambda f, v: _number(f, v, float, said("must be a number")), "value"),
    FieldType("boolean", "checkbox", _boolean),
    FieldType("date", "date", _date),
    FieldType("datetime", "datetime", _datetime),
    FieldType("enum", "choice", _choice),
)}


def field_type(name: str) -> FieldType:
    """Return a registered field type (`string` for an unknown name, as forms read before)."""
    return FIELD_TYPES.get(name) or FIELD_TYPES["string"]


def _empty(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def validate_form(form: Form, data: Any, *, extra_allowed: bool = False) -> dict[str, Any]:
    """Check `data` against `form`; return the typed values or raise InvalidData per field."""
    if not isinstance(data, dict):
        raise InvalidData(said("The submitted data must be an object of field values."),
                          {"data": [said("must be an object")]})
    errors: dict[str, list[str]] = {}
    cleaned: dict[str, Any] = {}
    known = {f.name for f in form.fields}
    for f in form.fields:
        if f.readonly:
            continue
        value = data.get(f.name)
        if _empty(value) or (f.type == "boolean" and value is None):
            if f.required and f.type != "boolean":
                errors.setdefault(f.name, []).append(said("%(field)s is required", field=_label(f)))
            elif f.type == "boolean":
                cleaned[f.name] = bool(f.default) if value is None and f.default is not None else False
            elif f.default is not None and f.name not in data:
                cleaned[f.name] = f.default
            continue
        try:
            cleaned[f.name] = field_type(f.type).parse(f, value)
        except ValueError as err:
            why = err.args[0] if len(err.args) == 1 and isinstance(err.args[0], Said) else str(err)
            errors.setdefault(f.name, []).append(said("%(field)s %(why)s", field=_label(f), why=why))
    if form.is_gate and cleaned.get("decision") in ("reject", "rework") and _empty(cleaned.get("comment")):
        errors.setdefault("comment", []).append(said("A comment is required when the decision is reject or rework"))
    unknown = sorted(k for k in data if k not in known)
    if unknown and not extra_allowed:
        for name in unknown:
            errors.setdefault(name, []).append(said("is not a field of this form"))
    if errors:
        raise InvalidData(said("Some fields are not valid: %(fields)s", fields=", ".join(sorted(errors))), errors)
    return cleaned


def _label(f: Field) -> Name:
    return Name(f.label or f.name, f.label_zh or None)
