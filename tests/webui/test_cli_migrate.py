"""`opsgate migrate` as CONTRACT.md describes it: dry run, mapping, exit status."""
from __future__ import annotations

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from engine import db
from engine.cases import services
from engine.config import EngineConfig
from engine.people import users
from models import User
from tests.conftest import DATA
from webui.cli.base import main


@pytest.fixture
def cli(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path}/cli.db"
    monkeypatch.delenv("OPSGATE_ADMIN_PASSWORD", raising=False)
    runner = CliRunner()

    def run(*args, input=None):
        return runner.invoke(main, ["--database-url", url, *args], input=input)

    run.url = url
    return run


def start_cases(url: str, count: int) -> list[str]:
    engine = db.make_engine(url)
    try:
        with db.make_sessionmaker(engine, EngineConfig.from_environ())() as s, s.begin():
            rick = users.create_user(s, "rick", [], actor=None)
            return [services.start_case(s, "mig", {}, actor=rick).key for _ in range(count)]
    finally:
        engine.dispose()


def test_migrate_dry_run_then_move_with_a_mapping(cli):
    cli("init")
    assert cli("deploy", str(DATA / "migrate_v1.bpmn")).exit_code == 0
    first, second = start_cases(cli.url, 2)
    assert "mig v2 deployed" in cli("deploy", str(DATA / "migrate_v3.bpmn")).output
    dry = cli("migrate", "mig", "--to", "2", "--dry-run")
    assert dry.exit_code == 0
    assert f"{first} v1 -> v2: cannot move, because Triage (triage, UserTask) is not in the target version" in dry.output
    assert "2 case(s); 0 can move, 2 cannot move" in dry.output
    named = cli("migrate", "mig", "--to", "2", "--case", first)
    assert named.exit_code == 1 and f"{first} v1 -> v2: cannot move" in named.output
    bad = cli("migrate", "mig", "--to", "2", "--map", "triage")
    assert bad.exit_code == 1 and "old_element=new_element" in bad.output
    moved = cli("migrate", "mig", "--to", "2", "--case", first, "--map", "triage=assess",
                "--map", "triage_sla=assess_sla", "--as", "admin")
    assert moved.exit_code == 0, moved.output
    assert f"{first} v1 -> v2: moved" in moved.output and second not in moved.output.split("\n")[0]
    back = cli("migrate", "mig", "--to", "1", "--from", "2", "--map", "assess=triage", "--map", "assess_sla=triage_sla")
    assert back.exit_code == 0 and f"{first} v2 -> v1: moved" in back.output
    assert cli("migrate", "mig", "--to", "9").exit_code == 1


def test_migrate_as_someone_who_is_no_process_owner_is_refused(cli):
    cli("init")
    cli("deploy", str(DATA / "migrate_v1.bpmn"))
    cli("user", "add", "erin", "--group", "engineer")
    refused = cli("migrate", "mig", "--to", "1", "--as", "erin")
    assert refused.exit_code == 1 and "only process owners and admins" in refused.output
    engine = db.make_engine(cli.url)
    with db.make_sessionmaker(engine, EngineConfig.from_environ())() as s:
        assert s.scalars(select(User.name).where(User.name == "erin")).one() == "erin"
    engine.dispose()
