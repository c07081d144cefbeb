"""`opsgate serve` runs the app under waitress, and refuses a database without the schema."""

from __future__ import annotations

from click.testing import CliRunner
from flask import Flask

from webui.cli import serve as cli_serve
from webui.cli import serving
from webui.cli.base import main


def test_serve_hands_the_app_to_waitress(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path}/opsgate.db"
    runner = CliRunner()
    assert runner.invoke(main, ["--database-url", url, "init"]).exit_code == 0
    calls, workers = [], []
    monkeypatch.setattr(serving.waitress, "serve", lambda app, **kw: calls.append((app, kw)))
    monkeypatch.setattr(cli_serve, "start_background_worker", lambda app: workers.append(app))
    monkeypatch.setenv("OPSGATE_INSTANCE", str(tmp_path / "instance"))
    result = runner.invoke(main, ["--database-url", url, "serve", "--host", "0.0.0.0",
                                  "--port", "8123", "--threads", "4"])
    assert result.exit_code == 0, result.output
    (app, kw), = calls
    assert isinstance(app, Flask) and "api" in app.blueprints
    assert kw == {"host": "0.0.0.0", "port": 8123, "threads": 4, "ident": "opsgate"}
    assert app.config["DATABASE_URL"] == url
    assert workers == [app]  # SQLite: the timer worker runs inside `serve`


def test_serve_refuses_a_database_without_the_schema(tmp_path, monkeypatch):
    monkeypatch.setattr(serving.waitress, "serve", lambda app, **kw: None)
    result = CliRunner().invoke(main, ["--database-url", f"sqlite:///{tmp_path}/empty.db",
                                       "serve"])
    assert result.exit_code == 1
    assert "opsgate init" in result.output
