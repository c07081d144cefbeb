"""A serving process keeps the garbage collector out of its requests (webui.process): what is
loaded when it starts serving is frozen, and young collections run less often. gunicorn's
workers, `opsgate serve` and `opsgate demo` call it once the app is loaded."""
from __future__ import annotations

import gc
import json
import subprocess
import sys
from collections.abc import Iterator

import pytest

from webui import process


@pytest.fixture
def collector() -> Iterator[None]:
    before = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*before)


def test_settle_freezes_what_is_loaded_and_collects_the_young_less_often(collector) -> None:
    gc.unfreeze()
    _, middle, old = gc.get_threshold()
    process.settle()
    assert gc.get_freeze_count() > 10_000  # this process's modules, classes and functions at least
    assert gc.get_threshold() == (process.YOUNG_OBJECTS, middle, old)
    young = [object() for _ in range(1000)]  # allocated after: the collector still sees them
    assert gc.is_tracked([young])


def test_a_gunicorn_worker_settles_once_it_has_loaded_the_app(tmp_path) -> None:
    """gunicorn calls post_worker_init in each worker after loading the app. (In a process of its
    own: importing webui.gunicorn_conf sets PROMETHEUS_MULTIPROC_DIR for what follows.)"""
    script = ("import gc, json; from webui import gunicorn_conf, process; gunicorn_conf.post_worker_init(None); "
              "print(json.dumps([gc.get_threshold()[0] == process.YOUNG_OBJECTS, gc.get_freeze_count()]))")
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True,
                         env={"PROMETHEUS_MULTIPROC_DIR": str(tmp_path), "PATH": "/usr/bin:/bin",
                              "PYTHONPATH": ":".join(p for p in sys.path if p)})
    young, frozen = json.loads(out.stdout)
    assert young and frozen > 10_000
