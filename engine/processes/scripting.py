"""The restricted environment that runs gateway conditions, timer expressions and script tasks.

A BPMN file is data from a process owner, not code from an administrator, so nothing in it runs
with Python's full powers. Code is compiled with RestrictedPython (no names or attributes that
start with `_`, guarded attribute, item and iteration access) after an AST allow-list check
(no imports, no class definitions, no global/nonlocal, no huge powers), runs with an allow-list
of builtins plus opsgate's helpers, and is stopped after `TIME_LIMIT` seconds.
"""
from __future__ import annotations

import ast
import builtins
import datetime as dt
import functools
import sys
import time
from collections.abc import Callable
from typing import Any, Literal

from RestrictedPython import compile_restricted
from RestrictedPython.Guards import (
    full_write_guard,
    guarded_iter_unpack_sequence,
    safer_getattr,
)
from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine
from SpiffWorkflow.bpmn.script_engine.python_environment import (
    BasePythonScriptEngineEnvironment,
)

from engine.config import DEFAULTS, EngineConfig
from engine.timing import calendar, clock

TIME_LIMIT = 1.0  # seconds for one expression or script
MAX_POW_EXPONENT = 64

_SAFE_BUILTINS: dict[str, Any] = {
    name: getattr(builtins, name)
    for name in (
        "abs", "all", "any", "bool", "dict", "divmod", "enumerate", "filter", "float", "int",
        "isinstance", "len", "list", "map", "max", "min", "range", "reversed", "round", "set",
        "sorted", "str", "sum", "tuple", "zip", "ValueError", "KeyError", "TypeError",
    )
}
_SAFE_BUILTINS.update({"True": True, "False": False, "None": None})

# Builtins a data variable could not sensibly shadow; naming one is refused at deploy.
_FORBIDDEN_NAMES = {name for name in dir(builtins) if name not in _SAFE_BUILTINS and not name.startswith("_")}

HELPERS: dict[str, Callable[..., Any]] = {}


def helper(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Make `fn` callable by name from BPMN expressions and scripts."""
    HELPERS[fn.__name__] = fn
    return fn


@helper
def now() -> str:
    """Return the engine's current instant as an ISO 8601 UTC string."""
    return clock.now().isoformat()


@helper
def iso_duration(days: float = 0, hours: float = 0, minutes: float = 0) -> str:
    """Return an ISO 8601 duration such as PT4H for timer expressions."""
    total = dt.timedelta(days=days, hours=hours, minutes=minutes)
    whole_days, rest = total.days, total.seconds
    text = "P" + (f"{whole_days}D" if whole_days else "")
    if rest or not whole_days:
        text += f"T{rest // 3600}H{rest % 3600 // 60}M" if rest % 3600 else f"T{rest // 3600}H"
    return text


# Business-time helpers (engine.timing.calendar): business_hours(n), business_days(n), on the
# calendars of the configuration the script engine was made for (script_engine(config)).
_DEFAULT_CALENDARS = calendar.Calendars()


class ScriptError(Exception):
    """A condition, timer expression or script that breaks the rules or fails to run."""


class _Checker(ast.NodeVisitor):
    """Refuse constructs RestrictedPython would allow but a process definition has no use for."""

    def generic_visit(self, node: ast.AST) -> None:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            raise ScriptError(f"line {node.lineno}: imports are not allowed")
        if isinstance(node, (ast.ClassDef, ast.Global, ast.Nonlocal, ast.AsyncFunctionDef, ast.Await)):
            raise ScriptError(f"line {node.lineno}: {type(node).__name__} is not allowed")
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Pow):
            exp = node.right
            if not (isinstance(exp, ast.Constant) and isinstance(exp.value, int) and abs(exp.value) <= MAX_POW_EXPONENT):
                raise ScriptError(f"line {node.lineno}: ** needs a literal exponent up to {MAX_POW_EXPONENT}")
        if isinstance(node, ast.Name) and node.id in _FORBIDDEN_NAMES:
            raise ScriptError(f"line {node.lineno}: {node.id} is not allowed")
        super().generic_visit(node)


@functools.lru_cache(maxsize=4096)
def compile_code(source: str, mode: Literal["eval", "exec"]) -> Any:
    """Compile `source` ("eval" or "exec") under the rules; raise ScriptError saying why not."""
    try:
        tree = ast.parse(source, mode=mode)
    except SyntaxError as err:
        raise ScriptError(f"line {err.lineno}: syntax error: {err.msg}") from None
    _Checker().visit(tree)
    try:
        return compile_restricted(source, filename="<bpmn>", mode=mode)
    except SyntaxError as err:
        messages = err.args[0] if err.args and isinstance(err.args[0], tuple) else (str(err),)
        raise ScriptError("; ".join(messages)) from None


def _globals(calendars: calendar.Calendars = _DEFAULT_CALENDARS) -> dict[str, Any]:
    return {
        "__builtins__": _SAFE_BUILTINS,
        "_getattr_": safer_getattr,
        "_getitem_": lambda obj, key: obj[key],
        "_getiter_": iter,
        "_iter_unpack_sequence_": guarded_iter_unpack_sequence,
        "_unpack_sequence_": guarded_iter_unpack_sequence,
        "_write_": full_write_guard,
        "_inplacevar_": _inplacevar,
        **HELPERS,
        **calendars.helpers(),
    }


def _inplacevar(op: str, left: Any, right: Any) -> Any:
    ops = {"+=": lambda a, b: a + b, "-=": lambda a, b: a - b, "*=": lambda a, b: a * b,
           "/=": lambda a, b: a / b, "//=": lambda a, b: a // b, "%=": lambda a, b: a % b}
    if op not in ops:
        raise ScriptError(f"operator {op} is not allowed")
    return ops[op](left, right)


def _run_bounded(fn: Callable[[], Any]) -> Any:
    deadline = time.monotonic() + TIME_LIMIT
    previous = sys.gettrace()

    def tracer(frame: Any, event: str, arg: Any) -> Any:
        # Opcode events, since a one-line loop raises no further line events.
        if frame.f_code.co_filename != "<bpmn>":
            return None
        frame.f_trace_opcodes = True
        if time.monotonic() > deadline:
            raise ScriptError(f"ran longer than {TIME_LIMIT:g} s")
        return tracer

    sys.settrace(tracer)
    try:
        return fn()
    finally:
        sys.settrace(previous)


def evaluate(expression: str, data: dict[str, Any], calendars: calendar.Calendars = _DEFAULT_CALENDARS) -> Any:
    """Evaluate a restricted expression over `data`."""
    code = compile_code(expression.strip(), "eval")
    scope = _globals(calendars)
    scope.update(data)
    return _run_bounded(lambda: eval(code, scope))


def execute(script: str, data: dict[str, Any], calendars: calendar.Calendars = _DEFAULT_CALENDARS) -> None:
    """Run a restricted script that reads and writes `data` in place."""
    code = compile_code(script, "exec")
    base = _globals(calendars)
    scope = dict(base)
    scope.update(data)
    _run_bounded(lambda: exec(code, scope))
    for key in [k for k in data if k not in scope]:
        del data[key]
    for key, value in scope.items():
        if key.startswith("_") or callable(value) or (key in base and value is base[key]):
            continue
        data[key] = value


class RestrictedEnvironment(BasePythonScriptEngineEnvironment):
    """SpiffWorkflow's script environment, restricted, with one configuration's calendars."""

    def __init__(self, calendars: calendar.Calendars = _DEFAULT_CALENDARS) -> None:
        super().__init__()
        self.calendars = calendars

    def evaluate(self, expression: str, context: dict[str, Any], external_context: dict[str, Any] | None = None) -> Any:
        return evaluate(expression, {**(external_context or {}), **context}, self.calendars)

    def execute(self, script: str, context: dict[str, Any], external_context: dict[str, Any] | None = None) -> bool:
        execute(script, context, self.calendars)
        return True

    def call_service(self, context: dict[str, Any], **kwargs: Any) -> Any:
        raise ScriptError("service tasks are not supported")


def script_engine(config: EngineConfig = DEFAULTS) -> PythonScriptEngine:
    """Return the restricted script engine workflows run with under this configuration."""
    return _script_engine(config.calendar)


@functools.lru_cache(maxsize=8)
def _script_engine(calendar_settings: tuple[tuple[str, str], ...]) -> PythonScriptEngine:
    return PythonScriptEngine(environment=RestrictedEnvironment(calendar.Calendars(calendar_settings)))



