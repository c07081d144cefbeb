"""The sandbox process (engine.processes.sandbox): run restricted code sent on stdin, answer on stdout.

Started by the pool with `python -I -c ... ROOT MEMORY_MB` and an empty environment (the calendar
settings come with each request). It limits itself before taking any work (no core files, no file writes, no
new files, its address space), then serves one request at a time until its stdin closes.
"""
from __future__ import annotations

import contextlib
import json
import math
import resource
import sys
from typing import Any

from engine.processes import scripting
from engine.processes.sandbox import (
    HEADER,
    MAX_REPLY_BYTES,
    ValueNotPlain,
    decode,
    dump_frame,
    encode,
    read_exact,
    write_all,
)
from engine.timing import calendar, clock

_MESSAGE_CHARS = 2000


def _address_space() -> int | None:
    try:
        with open("/proc/self/statm") as statm:
            pages = int(statm.read().split()[0])
    except (OSError, ValueError, IndexError):
        return None
    return pages * resource.getpagesize()


def _limit(memory_mb: int) -> None:
    """Lower this process's limits for good (an unprivileged process cannot raise them again)."""
    for name, value in (("RLIMIT_CORE", 0), ("RLIMIT_FSIZE", 0)):
        with contextlib.suppress(AttributeError, ValueError, OSError):
            resource.setrlimit(getattr(resource, name), (value, value))
    size = _address_space()
    if size is not None and memory_mb > 0:
        limit = size + memory_mb * 1024 * 1024
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    with contextlib.suppress(ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_NOFILE, (16, 16))


def _cpu_bound(seconds: float) -> None:
    """Stop this process (SIGXCPU) should it outlive the caller's deadline by a second."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    soft = int(usage.ru_utime + usage.ru_stime) + math.ceil(seconds) + 1
    _soft, hard = resource.getrlimit(resource.RLIMIT_CPU)
    if hard != resource.RLIM_INFINITY:
        soft = min(soft, hard)
    with contextlib.suppress(ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_CPU, (soft, hard))


def _failure(err: BaseException) -> dict[str, Any]:
    return {"ok": False, "error": type(err).__name__, "message": str(err)[:_MESSAGE_CHARS]}


def handle(request: dict[str, Any]) -> dict[str, Any]:
    """Run one request: {mode: eval|exec, source, data, now, seconds, calendar}."""
    _cpu_bound(float(request.get("seconds") or 1))
    try:
        data = decode(request["data"])
        calendars = calendar.Calendars(tuple((str(k), str(v)) for k, v in request.get("calendar") or ()))
        with clock.frozen(clock.parse_instant(request["now"])):
            if request["mode"] == "eval":
                value = scripting.run_eval(request["source"], data, calendars)
                result: dict[str, Any] = {"ok": True, "value": encode(value)}
            else:
                scripting.run_exec(request["source"], data, calendars)
                result = {"ok": True, "data": encode(data)}
    except MemoryError:
        return {"ok": False, "error": "MemoryError", "message": "", "retire": True}
    except ValueNotPlain as err:
        return {"ok": False, "error": "ScriptError", "message": f"the result holds {err}: keep only text, numbers, "
                                                                "true/false, lists and dicts in case data"}
    except RecursionError as err:
        return _failure(err)
    except Exception as err:  # reported to the caller by name and message, raised there again
        return _failure(err)
    return result


def main() -> None:
    memory_mb = int(sys.argv[2]) if len(sys.argv) > 2 else 256
    _limit(memory_mb)
    inp, out = sys.stdin.fileno(), sys.stdout.fileno()
    write_all(out, dump_frame({"ready": True}))
    while True:
        try:
            (size,) = HEADER.unpack(read_exact(inp, HEADER.size, None))
            request = json.loads(read_exact(inp, size, None))
        except EOFError:
            return
        reply = handle(request)
        try:
            frame = dump_frame(reply)
        except MemoryError:
            frame = dump_frame({"ok": False, "error": "MemoryError", "message": "", "retire": True})
        except (ValueError, RecursionError) as err:
            frame = dump_frame(_failure(err))
        if len(frame) > MAX_REPLY_BYTES:
            frame = dump_frame({"ok": False, "error": "ScriptError",
                                "message": f"the result is larger than {MAX_REPLY_BYTES // (1024 * 1024)} MB"})
        write_all(out, frame)


if __name__ == "__main__":
    main()
