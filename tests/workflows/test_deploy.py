"""The pack deploys through engine.processes.definitions and `opsgate init`, with the manifest the engine needs."""

import pytest
from click.testing import CliRunner

from engine.processes import catalog, deployment
from tests.workflows.conftest import WORKFLOWS
from webui.cli.base import main

PREFIXES = {
    "incident": "INC",
    "change_request": "CHG",
    "emergency_response": "EMR",
    "account_onboarding": "ACC",
    "account_offboarding": "OFF",
    "backup_restore_drill": "DRL",
    "rectification": "RCT",
    "service_request": "SRQ",
    "inspection": "INS",
    "datacenter_access": "DCA",
    "duty_roster": "DTY",
    "process_change": "PCH",
}


def pack_files():
    return [(p.name, p.read_bytes()) for p in sorted(WORKFLOWS.iterdir()) if p.suffix in (".bpmn", ".dmn")]


def test_every_file_deploys_and_redeploying_changes_nothing(session, make_user):
    owner = make_user("process_owner")
    first = deployment.deploy(session, pack_files(), actor=owner)
    assert sorted((r.key, r.version, r.created) for r in first) == sorted((k, 1, True) for k in PREFIXES)
    again = deployment.deploy(session, pack_files(), actor=owner)
    assert all(not r.created and r.version == 1 for r in again)


@pytest.mark.parametrize("key", sorted(PREFIXES))
def test_manifest_names_prefix_start_form_groups_and_outcomes(session, desk, key):
    # `desk`: the pack template, which seed_pack deployed with deployment.deploy as above
    manifest = catalog.get_definition(session, key).manifest
    assert manifest["process"]["case_prefix"] == PREFIXES[key]
    assert manifest["process"]["name_zh"]
    assert manifest["start_form"] and all(f["label"] and f["label_zh"] for f in manifest["start_form"])
    assert manifest["tasks"]
    for element, task in manifest["tasks"].items():
        assert task["candidate_groups"], element
        assert task["name_zh"], element
        assert all(f["label_zh"] for f in task["form"]), element
    assert manifest["end_events"]


def test_opsgate_init_deploys_all_six(tmp_path, monkeypatch):
    monkeypatch.delenv("OPSGATE_ADMIN_PASSWORD", raising=False)
    result = CliRunner().invoke(main, ["--database-url", f"sqlite:///{tmp_path}/init.db", "init"])
    assert result.exit_code == 0, result.output
    for key in PREFIXES:
        assert f"{key} v1 deployed" in result.output
