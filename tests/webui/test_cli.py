"""The command line as CONTRACT.md describes it."""
from __future__ import annotations

import pytest
from click.testing import CliRunner

from tests.conftest import DATA
from webui.cli.base import main


@pytest.fixture
def cli(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path}/cli.db"
    monkeypatch.delenv("OPSGATE_ADMIN_PASSWORD", raising=False)
    runner = CliRunner()

    def run(*args, input=None):
        return runner.invoke(main, ["--database-url", url, *args], input=input)

    return run


def test_init_prints_the_admin_password_once(cli):
    first = cli("init")
    assert first.exit_code == 0 and "created user admin with password: " in first.output
    again = cli("init")
    assert again.exit_code == 0 and "password" not in again.output


def test_deploy_reports_each_problem_and_exits_1(cli, tmp_path):
    cli("init")
    good = cli("deploy", str(DATA / "four_steps.bpmn"))
    assert good.exit_code == 0 and "four_steps v1 deployed" in good.output
    assert "four_steps v1 unchanged" in cli("deploy", str(DATA / "four_steps.bpmn")).output
    bad = tmp_path / "bad.bpmn"
    bad.write_text((DATA / "four_steps.bpmn").read_text().replace('name="engineer"', 'name="wizards"'))
    result = cli("deploy", str(DATA / "camunda_approval.bpmn"), str(bad))
    assert result.exit_code == 1
    assert "bad.bpmn:" in result.output and "[diagnose]" in result.output and "'wizards'" in result.output
    assert "nothing deployed" in result.output
    assert "purchase_approval" not in cli("deploy", str(DATA / "four_steps.bpmn")).output


def test_deploy_prints_lint_warnings_and_refuses_lint_errors(cli, tmp_path):
    cli("init")
    warned = cli("deploy", str(DATA / "four_steps.bpmn"))
    assert warned.exit_code == 0
    assert "warning: four_steps.bpmn:" in warned.output and "[label-required]" in warned.output
    orphan = tmp_path / "orphan.bpmn"
    orphan.write_text((DATA / "four_steps.bpmn").read_text().replace(
        '<bpmn:endEvent id="end_done"', '<bpmn:task id="orphan" name="Orphan" /><bpmn:endEvent id="end_done"'))
    refused = cli("deploy", str(orphan))
    assert refused.exit_code == 1
    assert "[orphan]" in refused.output and "[no-disconnected] Orphan (orphan) is not connected" in refused.output


def test_user_token_and_provider(cli):
    cli("init")
    added = cli("user", "add", "erin", "--group", "engineer", "--group", "cab", "--password-stdin",
                input="correct horse battery\n")
    assert added.exit_code == 0 and "groups cab, engineer, requester" in added.output
    assert cli("user", "add", "x", "--group", "wizards").exit_code == 1
    short = cli("user", "add", "y", "--password-stdin", input="short\n")
    assert short.exit_code == 1 and "at least 10 characters" in short.output
    token = cli("token", "create", "erin")
    assert token.exit_code == 0 and token.output.startswith("og_")
    assert cli("token", "create", "nobody").exit_code == 1
    provider = cli("provider", "add", "Acme", "--system", "erp", "--system", "mail")
    assert provider.exit_code == 0 and "systems erp, mail" in provider.output
    clash = cli("provider", "add", "Other", "--system", "erp")
    assert clash.exit_code == 1 and "already served by provider 'Acme'" in clash.output
