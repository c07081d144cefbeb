"""The README's "JSON API" walk-through works: the same commands, the same request bodies."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

from click.testing import CliRunner

from webui import create_app
from webui.cli.base import main

README = Path(__file__).resolve().parents[2] / "README.md"


def readme_commands() -> list[list[str]]:
    """The shell commands of the README's JSON API section, split like a shell would."""
    section = README.read_text().split("## JSON API", 1)[1].split("\n## ", 1)[0]
    block = section.split("```sh", 1)[1].split("```", 1)[0]
    commands, pending = [], ""
    for line in re.sub(r"\\\n\s*", " ", block).splitlines():
        pending += line + "\n"
        try:
            argv = shlex.split(pending, comments=True)
        except ValueError:  # a quoted argument goes on over the next line
            continue
        if argv:
            commands.append(argv)
        pending = ""
    return commands


def test_readme_walkthrough(tmp_path, monkeypatch):
    monkeypatch.setenv("OPSGATE_INSTANCE", str(tmp_path / "instance"))
    url = f"sqlite:///{tmp_path}/opsgate.db"
    runner = CliRunner()
    commands = readme_commands()
    token = None
    for argv in commands:
        if argv and argv[0] == ".venv/bin/opsgate" and argv[1] != "serve":
            result = runner.invoke(main, ["--database-url", url, *argv[1:]])
            assert result.exit_code == 0, (argv, result.output)
        elif argv and argv[0].startswith("TOKEN=$(") and "token" in argv:
            # TOKEN=$(.venv/bin/opsgate token create monitor)
            name = argv[-1].rstrip(")")
            result = runner.invoke(main, ["--database-url", url, "token", "create", name])
            assert result.exit_code == 0, result.output
            token = result.output.strip()
    assert token and token.startswith("og_")
    curls = [argv for argv in commands if argv and argv[0] == "curl"]
    assert len(curls) == 2
    post, listing = curls
    body = json.loads(post[post.index("-d") + 1])
    monkeypatch.setenv("OPSGATE_DATABASE_URL", url)
    client = create_app().test_client()
    headers = {"Authorization": f"Bearer {token}"}
    path = lambda argv: next(a for a in argv if a.startswith("http")).split(":5000", 1)[1]  # noqa: E731
    created = client.post(path(post), json=body, headers=headers)
    assert created.status_code == 201, created.json
    assert created.json["key"] == "INC-000001" and created.json["open_tasks"]
    again = client.post(path(post), json=body, headers=headers)
    assert again.status_code == 200 and again.json["occurrences"] == 2
    found = client.get(path(listing), headers=headers)
    assert found.status_code == 200
    assert [c["key"] for c in found.json["items"]] == ["INC-000001"]
