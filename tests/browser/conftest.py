"""Browser tests: a live opsgate on a thread, Debian's Chromium driven by Playwright.

Run with OPSGATE_TEST_BROWSER=1 (CI does). Every page a test visits is saved as a
screenshot under artifacts/screenshots/ (gitignored; CI keeps the folder).
"""

from __future__ import annotations

import contextlib
import os
import re
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "artifacts" / "screenshots"
# Chromium itself is launched once per run (per pytest-xdist worker): tests/conftest.py, `browser`.


def pytest_configure(config: pytest.Config) -> None:
    """Give Playwright's assertions 20 s instead of 5 before they fail. A passing test waits
    only as long as the page takes; the bound matters when the suite runs on several workers
    (pytest -n) on a loaded machine, where a page may take longer than 5 s to settle."""
    if os.environ.get("OPSGATE_TEST_BROWSER") == "1":
        from playwright.sync_api import expect

        expect.set_options(timeout=20_000)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark everything here as a browser test; skip it unless OPSGATE_TEST_BROWSER=1."""
    here = Path(__file__).parent
    skip = pytest.mark.skip(reason="browser tests run with OPSGATE_TEST_BROWSER=1")
    for item in items:
        if Path(str(item.fspath)).is_relative_to(here):
            item.add_marker(pytest.mark.browser)
            if os.environ.get("OPSGATE_TEST_BROWSER") != "1":
                item.add_marker(skip)


@contextlib.contextmanager
def serving(app: object) -> Iterator[str]:
    """Serve a WSGI app on a free port in a thread, with waitress as production does; yield
    its URL. (Werkzeug's development server left a static file unclosed when Chromium
    dropped a connection mid-response, which failed a test now and then.)"""
    from waitress import create_server

    server = create_server(app, host="127.0.0.1", port=0, threads=8)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.effective_port}"
    finally:
        server.close()
        thread.join(timeout=5)


@pytest.fixture(scope="session")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    """Serve a demo-seeded opsgate on a free port; yield its URL and the demo passwords."""
    from webui import create_app
    from webui.cli.demo_data import seed_demo

    instance = tmp_path_factory.mktemp("instance")
    url = f"sqlite:///{instance / 'browser.db'}"
    passwords = seed_demo(url, password="demo-password-1")
    app = create_app({"TESTING": True, "DATABASE_URL": url, "SECRET_KEY": "browser-tests",
                      "START_WORKER": False})
    with serving(app) as base:
        yield {"url": base, "passwords": passwords, "app": app}


def wait_until(page: object, expression: str, timeout: float = 30.0) -> None:
    """Poll a JavaScript expression until it is true. Playwright's wait_for_function evaluates its
    string with eval inside the page, which the pages' Content-Security-Policy forbids (no
    'unsafe-eval'); page.evaluate goes through the DevTools protocol and is not refused."""
    import time
    deadline = time.monotonic() + timeout
    while not page.evaluate(expression):  # type: ignore[attr-defined]
        if time.monotonic() > deadline:
            raise AssertionError(f"not true within {timeout} s: {expression}")
        time.sleep(0.1)


class Visitor:
    """One logged-in person's browser tab, saving a screenshot of each page it shows."""

    def __init__(self, context: object, base_url: str, prefix: str):
        self.context = context
        self.page = context.new_page()  # type: ignore[attr-defined]
        self.base_url = base_url
        self.prefix = prefix
        self.errors: list[str] = []
        self.page.on("pageerror", lambda exc: self.errors.append(str(exc)))
        # Script errors count; "Failed to load resource" is the browser noting a 4xx page the
        # test asked for on purpose (a refused form), and statuses are asserted where they matter.
        self.page.on("console", lambda msg: self.errors.append(msg.text)
                     if msg.type == "error" and not msg.text.startswith("Failed to load resource") else None)
        self.shots = 0

    def goto(self, path: str) -> object:
        response = self.page.goto(self.base_url + path)
        return response

    def shot(self, name: str) -> Path:
        """Save a full-page screenshot named after the test step."""
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        self.shots += 1
        safe = re.sub(r"[^a-z0-9_-]+", "-", f"{self.prefix}-{self.shots:02d}-{name}".lower())
        path = SCREENSHOTS / f"{safe}.png"
        self.page.screenshot(path=str(path), full_page=True)
        return path

    def login(self, name: str, password: str) -> None:
        self.goto("/login")
        self.page.fill("#name", name)
        self.page.fill("#password", password)
        self.page.click("button[type=submit]")
        self.page.wait_for_url(lambda url: "/login" not in url)


@pytest.fixture
def visit(browser: object, live_server: dict, request: pytest.FixtureRequest) -> Iterator:
    """Return a factory: visit(user) gives a logged-in Visitor in its own browser context."""
    contexts: list[object] = []

    def make(user: str | None = None) -> Visitor:
        context = browser.new_context(viewport={"width": 1366, "height": 900}, locale="en-US")  # type: ignore[attr-defined]
        contexts.append(context)
        visitor = Visitor(context, live_server["url"], f"{request.node.name}-{user or 'anon'}")
        if user:
            visitor.login(user, live_server["passwords"][user])
        return visitor

    yield make
    for context in contexts:
        context.close()  # type: ignore[attr-defined]
