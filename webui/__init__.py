"""The opsgate web application: people's pages and the JSON API over the engine.

The package itself imports nothing heavy: `import webui.cli` (every `opsgate` command, and
`opsgate --help`) must not load Flask, the pages or SpiffWorkflow. webui.factory builds the app.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from flask import Flask


def create_app(test_config: dict[str, Any] | None = None, *, database_url: str | None = None) -> Flask:
    """Build the app: defaults, then instance config or OPSGATE_* environment, or the test config;
    `database_url` (opsgate serve's --database-url) wins over both."""
    from webui import factory

    return factory.create_app(test_config, database_url=database_url)
