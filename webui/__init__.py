"""The opsgate web application: people's pages and the JSON API over the engine."""
from __future__ import annotations

import importlib
import os
from typing import Any

from flask import Flask
from flask_wtf.csrf import CSRFProtect

from . import config, db, errors

csrf = CSRFProtect()

# Blueprint modules registered when present: (module, attribute).
BLUEPRINTS = (
    "webui.auth", "webui.api", "webui.cases", "webui.tasks", "webui.processes", "webui.audit",
    "webui.reports", "webui.admin", "webui.home", "webui.i18n", "webui.notices", "webui.pages",
)


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    """Build the app: defaults, then instance config or OPSGATE_* environment, or the test config."""
    app = Flask(__name__, instance_path=os.path.abspath(os.environ.get("OPSGATE_INSTANCE", "instance")),
                instance_relative_config=True)
    app.config.from_mapping(config.DEFAULTS)
    if test_config is None:
        app.config.from_pyfile("config.py", silent=True)
        app.config.update(config.from_environment())
    else:
        app.config.update(test_config)
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = config.secret_key(app.instance_path)
    db.init_app(app)
    csrf.init_app(app)
    errors.init_app(app)
    for name in BLUEPRINTS:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as err:
            if err.name != name:
                raise
            continue
        if hasattr(module, "bp") and module.bp.name not in app.blueprints:
            app.register_blueprint(module.bp)
        if hasattr(module, "init_app"):
            module.init_app(app)
    return app
