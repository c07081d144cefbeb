"""How a serving process keeps Python's garbage collector out of its requests (gunicorn workers,
`opsgate serve`, `opsgate demo`).

A loaded opsgate process holds about 190,000 objects that live as long as it does: modules, the
app and its URL rules, compiled templates, SQLAlchemy's mappings, parsed processes. Python's
collector walks all of them on every full collection, which then stalls the request that
triggered it by 80-100 ms, and its young collections run some four times a request (a page
allocates many short-lived objects: rows, ORM objects, template output). `settle()`, called once
the app is loaded, moves what exists by then out of the collector's sight (`gc.freeze`, as
CPython's documentation suggests for servers) and lets the young generation grow to
`YOUNG_OBJECTS` objects before it is collected. Cycles are still collected, a little later.
Measured on the 1,000,000-case history (the engineer's inbox page, 55 requests in process):
full collections 80-98 ms -> 11-14 ms, young collections 1.3 -> 0.5 ms of a request; the
server figures are in docs/performance.md ("A real server").
"""
from __future__ import annotations

import gc

YOUNG_OBJECTS = 10_000


def settle() -> None:
    """Collect once, freeze what is loaded, and collect the young generation less often."""
    gc.collect()
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(YOUNG_OBJECTS, middle, old)
