"""`opsgate --help` loads only the command line: no app, no engine, no SpiffWorkflow, no hashing (issue 13).

Each check runs in a fresh interpreter (this test process has imported everything already)
and reads sys.modules after the command line answered; a heavy import added at the top of
a command module fails it, whatever the machine's speed.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# What a command may import only when it runs.
HEAVY = ("SpiffWorkflow", "argon2", "flask", "sqlalchemy", "alembic", "waitress", "jinja2",
         "webui.factory", "webui.api", "webui.pages", "engine.db", "engine.cases", "engine.people",
         "engine.processes", "engine.records", "models")

PROBE = """
import json, sys
from webui.cli import main
try:
    main({args!r}, prog_name="opsgate")
except SystemExit as exit:
    code = exit.code
print(json.dumps({{"code": code, "modules": sorted(sys.modules)}}))
"""


def _loaded(*args: str) -> tuple[int, list[str], str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-c", PROBE.format(args=list(args))], capture_output=True,
                          text=True, cwd=ROOT, env=env, timeout=60, check=True)
    *shown, last = done.stdout.strip().splitlines()
    found = json.loads(last)
    return found["code"], found["modules"], "\n".join(shown)


def _heavy(modules: list[str]) -> list[str]:
    return [m for m in modules if any(m == h or m.startswith(h + ".") for h in HEAVY)]


@pytest.mark.parametrize("args", [("--help",), ("backup", "--help"), ("restore", "--help"), ("serve", "--help"), ("demo", "--help")])
def test_help_loads_no_heavy_module(args):
    code, modules, shown = _loaded(*args)
    assert code == 0 and "Usage: opsgate" in shown
    assert _heavy(modules) == []


def test_help_lists_every_command():
    _code, _modules, shown = _loaded("--help")
    for command in ("audit", "backup", "demo", "deploy", "init", "migrate", "restore", "serve", "token", "worker"):
        assert f"  {command} " in shown


def test_the_options_written_out_match_the_engine():
    from engine.jobs import migrations
    from webui import exports
    from webui.cli import evaluate, migrate

    assert migrate.BATCH == migrations.BATCH
    assert evaluate.FORMATS == exports.FORMATS
