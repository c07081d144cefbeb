"""The app factory: every extension, blueprint and page module of the web application.

Imported by webui.create_app (webui/__init__.py) when an app is built, not when the package is: `opsgate --help`
and the other commands that serve nothing need none of this."""
from __future__ import annotations

from typing import Any

from flask import Flask
from flask_wtf.csrf import CSRFProtect

from webui import auth, config, db, errors, hardening, i18n, logs, monitoring, sso
from webui.api import external_tasks as api_external_tasks  # noqa: F401  (its routes join the API blueprint)
from webui.api import reports as api_reports
from webui.api import routes
from webui.pages import admin, audit, cases, common, deputies, display, notices, processes, reports, rows, tasks, webhooks

csrf = CSRFProtect()


def create_app(test_config: dict[str, Any] | None = None, *, database_url: str | None = None) -> Flask:
    """Build the app: defaults, then instance config or OPSGATE_* environment, or the test config;
    `database_url` (opsgate serve's --database-url) wins over both."""
    app = Flask(__name__, instance_path=config.instance_path(),
                instance_relative_config=True)
    hardening.init_app(app)  # first: the bounded <int:> converter must exist before any route
    app.config.from_mapping(config.DEFAULTS)
    if test_config is None:
        app.config.from_pyfile("config.py", silent=True)
        app.config.update(config.from_environment())
    else:
        app.config.update(test_config)
    if database_url:
        app.config["DATABASE_URL"] = database_url
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = config.secret_key(app.instance_path)
    if app.config.get("LOG_FORMAT"):
        logs.configure(app.config["LOG_FORMAT"], keep_existing=True)
    db.init_app(app)
    monitoring.init_app(app)
    csrf.init_app(app)
    errors.init_app(app)
    i18n.init_app(app)
    auth.init_app(app)
    sso.init_app(app)
    common.init_app(app)
    display.init_app(app)
    rows.init_app(app)
    routes.init_app(app)
    for blueprint in (auth.bp, routes.bp, cases.bp, tasks.bp, processes.bp, audit.bp, reports.bp, admin.bp,
                      notices.bp, api_reports.bp, webhooks.bp, deputies.bp):
        app.register_blueprint(blueprint)
    return app
