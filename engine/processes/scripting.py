"""The restricted environment that runs gateway conditions, timer expressions, scripts, DMN cells and
multi-instance expressions.

A BPMN file is data from a process owner, not code from an administrator, so nothing in it runs
with Python's full powers. Code is compiled with RestrictedPython (no names or attributes that
start with `_`, guarded attribute, item and iteration access) after an AST allow-list check
(no imports, no class definitions, no global/nonlocal, no huge powers), and runs with an
allow-list of builtins plus opsgate's helpers.

Where it runs depends on what it can cost (decided once per text, when it is compiled):

* **in process** when it is provably cheap: an expression made only of names, constants,
  comparisons, `and`/`or`/`not`, `+ - / //`, subscripts, conditional expressions, displays and
  calls of a few bounded functions (`len`, `str`, `int`, `min` ... `now()`, `iso_duration()`,
  `business_days(n)` with a small literal n), or a script of plain assignments of such
  expressions that do not build on each other. No loop, no repetition (`*`), no power, no
  format string: its cost is bounded by its length times the size of the case data. This is
  every condition, timer and DMN cell of the shipped pack, and it costs nothing extra;
* **in a sandbox process** (engine.processes.sandbox) otherwise, under a wall-clock deadline and
  a memory limit (`Limits`, from EngineConfig) that no single call can escape: a runaway is
  killed and reported as a ScriptError naming what ran out.

`bounded(limits)` sets the limits for the current context (engine.cases.stepping does, from the
session's EngineConfig); without it the defaults apply.
"""
from __future__ import annotations

import ast
import builtins
import contextlib
import contextvars
import datetime as dt
import functools
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from types import CodeType
from typing import Any, Literal

from RestrictedPython import compile_restricted
from RestrictedPython.Guards import (
    full_write_guard,
    guarded_iter_unpack_sequence,
    safer_getattr,
)
from SpiffWorkflow.bpmn.exceptions import WorkflowTaskException
from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine
from SpiffWorkflow.bpmn.script_engine.python_environment import (
    BasePythonScriptEngineEnvironment,
)
from SpiffWorkflow.bpmn.specs.mixins.multiinstance_task import MultiInstanceTask

from engine.config import DEFAULTS, EngineConfig
from engine.errors import said
from engine.processes import sandbox
from engine.timing import calendar, clock

TIME_LIMIT = 1.0  # default seconds for one expression or script (EngineConfig.script_seconds)
MAX_POW_EXPONENT = 64


@dataclass(frozen=True)
class Limits:
    """What one evaluation may use, and how many sandboxes a process keeps (EngineConfig)."""

    seconds: float = TIME_LIMIT
    memory_mb: int = 256
    workers: int = 2
    max_instances: int = 1000

    @classmethod
    def of(cls, config: EngineConfig) -> Limits:
        return cls(seconds=config.script_seconds, memory_mb=config.script_memory_mb,
                   workers=config.sandbox_workers, max_instances=config.max_instances)


_DEFAULT_LIMITS = Limits()


_limits_by_config: dict[int, tuple[EngineConfig, Limits]] = {}


def limits_of(config: EngineConfig) -> Limits:
    """The limits an installation's configuration sets (kept per configuration object: they are
    few, frozen, and hashing one on every step would cost more than the rest of the check)."""
    found = _limits_by_config.get(id(config))
    if found is None or found[0] is not config:
        if len(_limits_by_config) > 64:
            _limits_by_config.clear()
        found = _limits_by_config[id(config)] = (config, Limits.of(config))
    return found[1]
_limits: contextvars.ContextVar[Limits | None] = contextvars.ContextVar("opsgate_script_limits", default=None)


@contextlib.contextmanager
def bounded(limits: Limits) -> Iterator[Limits]:
    """Evaluate everything inside the block under `limits`."""
    token = _limits.set(limits)
    try:
        yield limits
    finally:
        _limits.reset(token)


def current_limits() -> Limits:
    """The limits in force here (the defaults outside `bounded`)."""
    return _limits.get() or _DEFAULT_LIMITS

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


def why(err: Exception) -> str:
    """The error's sentence as it was raised (a ScriptError, a timer's InvalidTimerValue): an
    engine.errors.Said keeps its template for a page to say, where str(err) is a plain copy of the
    English, so a deploy finding that quotes it stays sayable."""
    first = err.args[0] if err.args else None
    return first if isinstance(first, str) else str(err)


class _Checker(ast.NodeVisitor):
    """Refuse constructs RestrictedPython would allow but a process definition has no use for."""

    def generic_visit(self, node: ast.AST) -> None:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            raise ScriptError(said("line %(line)s: imports are not allowed", line=node.lineno))
        if isinstance(node, (ast.ClassDef, ast.Global, ast.Nonlocal, ast.AsyncFunctionDef, ast.Await)):
            raise ScriptError(said("line %(line)s: %(name)s is not allowed", line=node.lineno, name=type(node).__name__))
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Pow):
            exp = node.right
            if not (isinstance(exp, ast.Constant) and isinstance(exp.value, int) and abs(exp.value) <= MAX_POW_EXPONENT):
                raise ScriptError(said("line %(line)s: ** needs a literal exponent up to %(n)s", line=node.lineno,
                                        n=MAX_POW_EXPONENT))
        if isinstance(node, ast.Name) and node.id in _FORBIDDEN_NAMES:
            raise ScriptError(said("line %(line)s: %(name)s is not allowed", line=node.lineno, name=node.id))
        super().generic_visit(node)


@dataclass(frozen=True)
class Compiled:
    """Restricted byte code, and whether it is cheap enough to run in process (see the module)."""

    code: CodeType
    direct: bool


@functools.lru_cache(maxsize=4096)
def compiled(source: str, mode: Literal["eval", "exec"]) -> Compiled:
    """Compile `source` ("eval" or "exec") under the rules; raise ScriptError saying why not."""
    try:
        tree = ast.parse(source, mode=mode)
    except SyntaxError as err:
        raise ScriptError(said("line %(line)s: syntax error: %(error)s", line=err.lineno, error=err.msg)) from None
    except (ValueError, MemoryError, RecursionError) as err:  # NUL bytes; absurd nesting
        raise ScriptError(said("cannot be read: %(error)s", error=type(err).__name__)) from None
    try:
        _Checker().visit(tree)
    except RecursionError:
        raise ScriptError(said("is nested too deeply")) from None
    direct = _is_direct(tree)
    try:
        code = compile_restricted(source, filename="<bpmn>", mode=mode)
    except SyntaxError as err:
        messages = err.args[0] if err.args and isinstance(err.args[0], tuple) else (str(err),)
        raise ScriptError("; ".join(messages)) from None
    except (RecursionError, MemoryError):
        raise ScriptError(said("is nested too deeply")) from None
    return Compiled(code, direct)


def compile_code(source: str, mode: Literal["eval", "exec"]) -> CodeType:
    """Compile `source` under the rules and return its byte code (or raise ScriptError)."""
    return compiled(source, mode).code


# -- what runs in process ---------------------------------------------------------------------

# Every node an in-process expression may contain. Absent on purpose: loops and comprehensions,
# lambdas, `:=`, attribute access (methods), `*` `**` `%` `<<` (repetition, powers, formatting),
# f-strings, starred and `**` unpacking.
_DIRECT_NODES: tuple[type[ast.AST], ...] = (
    ast.Expression, ast.Constant, ast.Name, ast.Load, ast.Compare, ast.BoolOp, ast.UnaryOp, ast.IfExp,
    ast.Subscript, ast.Slice, ast.Tuple, ast.List, ast.Set, ast.Dict, ast.BinOp, ast.Call, ast.keyword,
    ast.And, ast.Or, ast.Not, ast.USub, ast.UAdd, ast.Invert,
    ast.Eq, ast.NotEq, ast.Lt, ast.LtE, ast.Gt, ast.GtE, ast.Is, ast.IsNot, ast.In, ast.NotIn,
    ast.Add, ast.Sub, ast.Div, ast.FloorDiv, ast.BitAnd, ast.BitOr, ast.BitXor, ast.RShift,
)
# Functions an in-process expression may call: each costs at most linear time in its argument.
_DIRECT_CALLS = {"len", "bool", "abs", "int", "float", "str", "min", "max", "isinstance", "now", "iso_duration"}
# Calendar helpers loop over days: in process only with a small literal argument.
_CALENDAR_CAPS = {"business_days": 3660, "business_hours": 87840}
_KEYWORD_CALLS = {"iso_duration", "business_days", "business_hours"}


def _direct_call(node: ast.Call) -> bool:
    if not isinstance(node.func, ast.Name):
        return False
    name = node.func.id
    if node.keywords and name not in _KEYWORD_CALLS:
        return False
    if any(k.arg is None for k in node.keywords):
        return False
    if name in _CALENDAR_CAPS:
        values = [*node.args, *(k.value for k in node.keywords if k.arg != "calendar")]
        return all(isinstance(v, ast.Constant) and isinstance(v.value, (int, float))
                   and not isinstance(v.value, bool) and abs(v.value) <= _CALENDAR_CAPS[name] for v in values)
    return name in _DIRECT_CALLS


def _direct_expression(node: ast.AST) -> bool:
    for each in ast.walk(node):
        if not isinstance(each, _DIRECT_NODES):
            return False
        if isinstance(each, ast.Call) and not _direct_call(each):
            return False
        if isinstance(each, ast.Dict) and any(k is None for k in each.keys):
            return False
    return True


def _is_direct(tree: ast.AST) -> bool:
    """Say whether code is provably cheap (see the module docstring)."""
    if isinstance(tree, ast.Expression):
        return _direct_expression(tree)
    assigned: set[str] = set()
    for stmt in getattr(tree, "body", []):
        if isinstance(stmt, ast.Pass) or (isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant)):
            continue
        if not (isinstance(stmt, ast.Assign) and all(isinstance(t, ast.Name) for t in stmt.targets)):
            return False
        value = ast.Expression(body=stmt.value)
        if not _direct_expression(value):
            return False
        if any(isinstance(n, ast.Name) and n.id in assigned for n in ast.walk(value)):
            return False  # building on its own results could double a value line after line
        assigned.update(t.id for t in stmt.targets if isinstance(t, ast.Name))
    return True


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


def run_eval(expression: str, data: dict[str, Any], calendars: calendar.Calendars = _DEFAULT_CALENDARS) -> Any:
    """Evaluate in this process, unbounded: for cheap code, and inside a sandbox."""
    code = compile_code(expression.strip(), "eval")
    scope = _globals(calendars)
    scope.update(data)
    return eval(code, scope)


def run_exec(script: str, data: dict[str, Any], calendars: calendar.Calendars = _DEFAULT_CALENDARS) -> None:
    """Run a script in this process, unbounded (see run_eval); it reads and writes `data`."""
    code = compile_code(script, "exec")
    base = _globals(calendars)
    scope = dict(base)
    scope.update(data)
    exec(code, scope)
    for key in [k for k in data if k not in scope]:
        del data[key]
    for key, value in scope.items():
        if key.startswith("_") or callable(value) or (key in base and value is base[key]):
            continue
        data[key] = value


# -- what runs in a sandbox -------------------------------------------------------------------

# Errors a sandbox reports by name that are raised here again as themselves.
_RAISED_AGAIN: dict[str, type[Exception]] = {cls.__name__: cls for cls in (
    ValueError, TypeError, NameError, ZeroDivisionError, IndexError, AttributeError, NotImplementedError,
    RecursionError, OverflowError, ArithmeticError, LookupError, AssertionError, UnboundLocalError,
)}


def _sandboxed(mode: str, source: str, data: dict[str, Any], calendars: calendar.Calendars) -> Any:
    limits = current_limits()
    try:
        payload = sandbox.encode(data)
    except (sandbox.ValueNotPlain, RecursionError) as err:
        raise ScriptError(f"the case data cannot be handed to the script: {err}") from None
    request = {"mode": mode, "source": source, "data": payload, "now": clock.now().isoformat(),
               "seconds": limits.seconds, "calendar": [list(pair) for pair in calendars.settings]}
    spawn = sandbox.Spawn(memory_mb=limits.memory_mb)
    try:
        answer = sandbox.pool(spawn).run(request, seconds=limits.seconds, workers=limits.workers)
    except sandbox.SandboxError as err:
        raise ScriptError(str(err)) from None
    if answer.get("ok"):
        try:
            return sandbox.decode(answer["value"] if mode == "eval" else answer["data"])
        except (KeyError, TypeError, ValueError, RecursionError):
            raise ScriptError("the expression sandbox sent no proper answer") from None
    name, message = str(answer.get("error")), str(answer.get("message") or "")
    if name == "MemoryError":
        raise ScriptError(f"used more than the {limits.memory_mb} MB of memory allowed")
    if name == "KeyError":
        raise KeyError(message.strip("'\""))
    cls = _RAISED_AGAIN.get(name)
    if cls is not None:
        raise cls(message)
    raise ScriptError(message if name == "ScriptError" else f"{name}: {message}")


def evaluate(expression: str, data: dict[str, Any], calendars: calendar.Calendars = _DEFAULT_CALENDARS) -> Any:
    """Evaluate a restricted expression over `data` (in process when cheap, else in a sandbox)."""
    source = expression.strip()
    if compiled(source, "eval").direct:
        return run_eval(source, data, calendars)
    return _sandboxed("eval", source, data, calendars)


def execute(script: str, data: dict[str, Any], calendars: calendar.Calendars = _DEFAULT_CALENDARS) -> None:
    """Run a restricted script that reads and writes `data` in place."""
    if compiled(script, "exec").direct:
        run_exec(script, data, calendars)
        return
    result = _sandboxed("exec", script, data, calendars)
    for key in [k for k in data if k not in result]:
        del data[key]
    data.update(result)


def check_instances(value: Any, what: str) -> int:
    """Return a multi-instance count if it is a whole number within the limit (else ScriptError)."""
    limit = current_limits().max_instances
    if isinstance(value, bool) or not isinstance(value, int):
        raise ScriptError(f"{what} must be a whole number, not {type(value).__name__}")
    if value < 0 or value > limit:
        raise ScriptError(f"{what} is {value}; a multi-instance task may run at most {limit:,} instances "
                          "(OPSGATE_MAX_INSTANCES)")
    return value


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


class BoundedScriptEngine(PythonScriptEngine):
    """SpiffWorkflow's script engine on the restricted environment, which also refuses a computed
    multi-instance cardinality above the limit before any instance is made."""

    def evaluate(self, task: Any, expression: str, external_context: dict[str, Any] | None = None) -> Any:
        value = super().evaluate(task, expression, external_context)
        spec = task.task_spec
        if isinstance(spec, MultiInstanceTask) and expression == spec.cardinality:
            try:
                check_instances(value, f"the loop cardinality {expression!r}")
            except ScriptError as err:
                raise WorkflowTaskException(str(err), task=task) from None
        return value


def script_engine(config: EngineConfig = DEFAULTS) -> PythonScriptEngine:
    """Return the restricted script engine workflows run with under this configuration."""
    return _script_engine(config.calendar)


@functools.lru_cache(maxsize=8)
def _script_engine(calendar_settings: tuple[tuple[str, str], ...]) -> PythonScriptEngine:
    return BoundedScriptEngine(environment=RestrictedEnvironment(calendar.Calendars(calendar_settings)))
