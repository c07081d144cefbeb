"""Running a process owner's code in a pool of sandbox processes, each under hard resource limits.

A gateway condition, timer expression, script, DMN cell or loop expression that is not provably
cheap (see engine.processes.scripting: anything with a loop, a comprehension or a call beyond a
few bounded helpers) runs here, not in the web or worker process:

* each sandbox is a separate Python process (`sandbox_child`), started with an empty environment,
  no open files but its pipes, no core dumps, no file writes
  (RLIMIT_FSIZE 0) and an address-space limit (RLIMIT_AS: its size after start-up plus
  `memory_mb`), so `'a' * 10**9` fails with a MemoryError inside the sandbox;
* the caller waits on the pipe with a deadline of `seconds` of wall time (the GIL is released
  while it waits, so every other request goes on); a sandbox that has not answered by then is
  killed (SIGKILL: a C-level call such as `sum(range(10**12))` cannot escape it) and replaced.
  RLIMIT_CPU backs the deadline up should the caller itself die;
* requests and replies are length-prefixed JSON (`encode` / `decode`: plain data, tuples, sets,
  dates, decimals); nothing from a sandbox is unpickled or executed by the caller, and a reply
  larger than MAX_REPLY_BYTES is refused.

The pool keeps up to `workers` sandboxes per process (lazily started, about 0.2 s each), reuses
them while they behave, and is rebuilt after a fork (gunicorn workers get their own).
"""
from __future__ import annotations

import atexit
import datetime as dt
import decimal
import json
import os
import select
import struct
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

MAX_REPLY_BYTES = 16 * 1024 * 1024
MAX_REQUEST_BYTES = 64 * 1024 * 1024
HEADER = struct.Struct(">I")
_ROOT = str(Path(__file__).resolve().parents[2])  # the folder holding the `engine` package
_BOOT = ("import sys; sys.path.insert(0, sys.argv[1]); "
         "from engine.processes.sandbox_child import main; main()")


class SandboxError(Exception):
    """The sandbox could not answer: it ran out of time or memory, died, or sent nonsense.

    `kind` is "time", "memory", "size", "busy" or "broken"."""

    def __init__(self, message: str, kind: str):
        super().__init__(message)
        self.kind = kind


class ValueNotPlain(ValueError):
    """A value that cannot cross into or out of a sandbox (a function, a class instance ...)."""


# ------------------------------------------------------------------------ the wire format


def encode(value: Any) -> Any:
    """Turn plain data into JSON-able form, tagging what JSON lacks (tuples, sets, dates ...)."""
    if value is None or isinstance(value, (bool, str, float)):
        return value
    if isinstance(value, int):
        return value
    if isinstance(value, list):
        return [encode(v) for v in value]
    if isinstance(value, dict):
        if all(isinstance(k, str) and not k.startswith("$") for k in value):
            return {k: encode(v) for k, v in value.items()}
        return {"$dict": [[encode(k), encode(v)] for k, v in value.items()]}
    if isinstance(value, tuple):
        return {"$tuple": [encode(v) for v in value]}
    if isinstance(value, (set, frozenset)):
        return {"$set" if isinstance(value, set) else "$frozenset": [encode(v) for v in value]}
    if isinstance(value, dt.datetime):
        return {"$datetime": value.isoformat()}
    if isinstance(value, dt.date):
        return {"$date": value.isoformat()}
    if isinstance(value, dt.time):
        return {"$time": value.isoformat()}
    if isinstance(value, dt.timedelta):
        return {"$timedelta": [value.days, value.seconds, value.microseconds]}
    if isinstance(value, decimal.Decimal):
        return {"$decimal": str(value)}
    if isinstance(value, uuid.UUID):
        return {"$uuid": str(value)}
    raise ValueNotPlain(f"a value of type {type(value).__name__} is not plain data")


_TAGS: dict[str, Any] = {
    "$tuple": lambda v: tuple(decode(x) for x in v),
    "$set": lambda v: {decode(x) for x in v},
    "$frozenset": lambda v: frozenset(decode(x) for x in v),
    "$dict": lambda v: {decode(k): decode(x) for k, x in v},
    "$datetime": dt.datetime.fromisoformat,
    "$date": dt.date.fromisoformat,
    "$time": dt.time.fromisoformat,
    "$timedelta": lambda v: dt.timedelta(days=v[0], seconds=v[1], microseconds=v[2]),
    "$decimal": decimal.Decimal,
    "$uuid": uuid.UUID,
}


def decode(value: Any) -> Any:
    """The inverse of `encode`."""
    if isinstance(value, list):
        return [decode(v) for v in value]
    if isinstance(value, dict):
        if len(value) == 1:
            (key, inner), = value.items()
            tag = _TAGS.get(key)
            if tag is not None:
                return tag(inner)
        return {k: decode(v) for k, v in value.items()}
    return value


def dump_frame(message: dict[str, Any]) -> bytes:
    body = json.dumps(message, separators=(",", ":"), ensure_ascii=False).encode()
    return HEADER.pack(len(body)) + body


def read_exact(fd: int, size: int, deadline: float | None) -> bytes:
    """Read `size` bytes from `fd` (EOFError at end of file, TimeoutError past the deadline)."""
    chunks, left = [], size
    while left:
        if deadline is not None:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not select.select([fd], [], [], remaining)[0]:
                raise TimeoutError
        chunk = os.read(fd, min(left, 1 << 20))
        if not chunk:
            raise EOFError
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


# ------------------------------------------------------------------------ the pool


@dataclass(frozen=True)
class Spawn:
    """How a sandbox is started: its memory allowance."""

    memory_mb: int = 256


class _Sandbox:
    def __init__(self, spawn: Spawn):
        self.proc = subprocess.Popen(
            [sys.executable, "-I", "-c", _BOOT, _ROOT, str(spawn.memory_mb)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
            env={}, close_fds=True, bufsize=0, cwd="/")
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.to_child = self.proc.stdin.fileno()
        self.from_child = self.proc.stdout.fileno()
        # The child says it is ready (imports done, limits set) before it takes work.
        hello = self._read(time.monotonic() + 30)
        if hello.get("ready") is not True:
            self.kill()
            raise SandboxError("the expression sandbox did not start", "broken")

    def _read(self, deadline: float | None) -> dict[str, Any]:
        try:
            (size,) = HEADER.unpack(read_exact(self.from_child, HEADER.size, deadline))
            if size > MAX_REPLY_BYTES:
                raise SandboxError(f"the result is larger than {MAX_REPLY_BYTES // (1024 * 1024)} MB", "size")
            message = json.loads(read_exact(self.from_child, size, deadline))
        except TimeoutError:
            raise
        except (EOFError, OSError, ValueError, RecursionError):
            raise SandboxError("the expression sandbox stopped without an answer", "broken") from None
        if not isinstance(message, dict):
            raise SandboxError("the expression sandbox sent no proper answer", "broken")
        return message

    def call(self, request: dict[str, Any], seconds: float) -> dict[str, Any]:
        frame = dump_frame(request)
        if len(frame) > MAX_REQUEST_BYTES:
            raise SandboxError("the case data is too large to hand to a script", "size")
        try:
            write_all(self.to_child, frame)
        except OSError:
            raise SandboxError("the expression sandbox stopped without an answer", "broken") from None
        try:
            return self._read(time.monotonic() + seconds)
        except TimeoutError:
            raise SandboxError(f"ran longer than {seconds:g} s", "time") from None

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        for pipe in (self.proc.stdin, self.proc.stdout):
            if pipe is not None:
                pipe.close()
        self.proc.wait()


class Pool:
    """Sandboxes of one kind (same Spawn), shared by the threads of this process."""

    def __init__(self, spawn: Spawn):
        self.spawn = spawn
        self._idle: list[_Sandbox] = []
        self._count = 0
        self._busy = 0
        self._cond = threading.Condition()

    @property
    def busy(self) -> int:
        """How many sandboxes are running something right now (for tests and metrics)."""
        return self._busy

    def run(self, request: dict[str, Any], *, seconds: float, workers: int) -> dict[str, Any]:
        """Send one request to a free sandbox and return its answer (or raise SandboxError)."""
        box = self._acquire(max(1, workers), wait=max(5.0, 2 * seconds))
        try:
            answer = box.call(request, seconds)
        except BaseException:
            self._discard(box)
            raise
        if answer.get("retire"):
            self._discard(box)  # it ran out of memory: a fresh one is cheaper than trusting it
        else:
            self._release(box)
        return answer

    def _acquire(self, workers: int, wait: float) -> _Sandbox:
        deadline = time.monotonic() + wait
        with self._cond:
            while not self._idle and self._count >= workers:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise SandboxError("every expression sandbox is busy; try again in a moment", "busy")
                self._cond.wait(remaining)
            self._busy += 1
            if self._idle:
                return self._idle.pop()
            self._count += 1
        try:
            return _Sandbox(self.spawn)
        except BaseException:
            with self._cond:
                self._count -= 1
                self._busy -= 1
                self._cond.notify()
            raise

    def _release(self, box: _Sandbox) -> None:
        with self._cond:
            self._busy -= 1
            self._idle.append(box)
            self._cond.notify()

    def _discard(self, box: _Sandbox) -> None:
        box.kill()
        with self._cond:
            self._busy -= 1
            self._count -= 1
            self._cond.notify()

    def close(self) -> None:
        with self._cond:
            idle, self._idle = self._idle, []
            self._count -= len(idle)
        for box in idle:
            box.kill()


_pools: dict[Spawn, Pool] = {}
_pools_lock = threading.Lock()
_owner = os.getpid()


def pool(spawn: Spawn) -> Pool:
    """The pool for sandboxes started this way (one per process; a forked child starts afresh)."""
    global _owner
    with _pools_lock:
        if os.getpid() != _owner:  # forked: the sandboxes belong to the parent
            _pools.clear()
            _owner = os.getpid()
        found = _pools.get(spawn)
        if found is None:
            found = _pools[spawn] = Pool(spawn)
        return found


def busy() -> int:
    """How many sandboxes of this process are running something now (tests, metrics)."""
    with _pools_lock:
        return sum(p.busy for p in _pools.values())


@atexit.register
def close_all() -> None:
    """Stop every idle sandbox of this process (at exit; tests call it too)."""
    with _pools_lock:
        pools = list(_pools.values()) if os.getpid() == _owner else []
    for each in pools:
        each.close()
