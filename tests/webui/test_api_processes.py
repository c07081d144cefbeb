"""JSON API: reading and deploying process definitions."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from tests.webui.pages.test_deploy_findings import LINT, LINT_SAID, TYPOS, TYPOS_EN

DATA = Path(__file__).parent.parent / "data"
TICKET = (DATA / "api_ticket.bpmn").read_bytes()


def test_list_shows_the_latest_version_of_each(api_as, ticket, deploy, session):
    deploy(("api_ticket.bpmn", TICKET.replace(b'name="API ticket" isExecutable',
                                              b'name="API ticket v2" isExecutable')))
    session.commit()
    response = api_as().get("/processes")
    assert response.status_code == 200
    (process,) = response.json
    assert (process["key"], process["name"], process["version"]) == ("api_ticket", "API ticket v2", 2)
    assert len(process["sha256"]) == 64 and process["deployed_at"]


def test_detail_has_the_start_form_and_takes_a_version(api_as, ticket):
    api = api_as()
    response = api.get("/processes/api_ticket")
    assert response.status_code == 200
    fields = {f["name"]: f for f in response.json["start_form"]["fields"]}
    assert fields["summary"]["required"] is True
    assert [c["value"] for c in fields["impact"]["choices"]] == ["low", "high"]
    assert api.get("/processes/api_ticket?version=1").json["version"] == 1
    assert api.get("/processes/api_ticket?version=9").status_code == 404
    assert api.get("/processes/api_ticket?version=one").status_code == 400
    assert api.get("/processes/nope").status_code == 404


def test_bpmn_download(api_as, ticket):
    response = api_as().get("/processes/api_ticket/bpmn?version=1")
    assert response.status_code == 200
    assert response.mimetype == "application/xml"
    assert response.data == TICKET
    assert api_as().get("/processes/nope/bpmn").status_code == 404


def test_deploy_xml_then_unchanged(api_as):
    owner = api_as("process_owner")
    first = owner.post("/processes", data=TICKET, content_type="application/xml",
                       headers={"X-Filename": "api_ticket.bpmn"})
    assert first.status_code == 201
    assert (first.json["key"], first.json["version"]) == ("api_ticket", 1)
    again = owner.post("/processes", data=TICKET, content_type="application/xml")
    assert again.status_code == 200
    assert again.json["version"] == 1 and again.json["changed"] is False


def test_deploy_multipart(api_as):
    admin = api_as("admin")
    response = admin.post("/processes", data={"file": (io.BytesIO(TICKET), "api_ticket.bpmn")},
                          content_type="multipart/form-data")
    assert response.status_code == 201
    assert admin.get("/processes/api_ticket").status_code == 200


def test_invalid_bpmn_is_422_naming_file_element_and_line(api_as):
    broken = TICKET.replace(b'name="engineer"', b'name="no_such_group"')
    response = api_as("process_owner").post("/processes", data=broken,
                                            content_type="application/xml",
                                            headers={"X-Filename": "broken.bpmn"})
    assert response.status_code == 422
    error = response.json["error"]
    assert error["code"] == "invalid_definition"
    assert any(d["file"] == "broken.bpmn" and "no_such_group" in d["message"]
               for d in error["details"])
    assert set(error["details"][0]) >= {"file", "element_id", "line", "message"}
    assert api_as().get("/processes").json == []


@pytest.mark.parametrize(("content_type", "body"), [
    ("text/plain", TICKET),
    ("multipart/form-data", {"other": "x"}),
])
def test_deploy_without_a_file_is_400(api_as, content_type, body):
    response = api_as("process_owner").post("/processes", data=body, content_type=content_type)
    assert response.status_code == 400
    assert response.json["error"]["code"] == "bad_request"


def test_only_process_owners_and_admins_deploy(api_as):
    response = api_as("engineer").post("/processes", data=TICKET, content_type="application/xml")
    assert response.status_code == 403
    assert "process owners" in response.json["error"]["message"]


def test_the_deploy_findings_stay_english_byte_for_byte_in_any_language(api_as):
    """Pages say the findings in the reader's language (tests/webui/pages/test_deploy_findings.py);
    the API answers today's English whatever the client's Accept-Language."""
    owner = api_as("process_owner")
    response = owner.post("/processes", data=TYPOS, content_type="application/xml",
                          headers={"X-Filename": "typos.bpmn", "Accept-Language": "zh-CN"})
    assert response.status_code == 422
    error = response.json["error"]
    messages = [d["message"] for d in error["details"]]
    assert messages[:2] == TYPOS_EN[:2] and messages[2].startswith(TYPOS_EN[2])
    assert error["message"] == f"typos.bpmn, element wait, line 13: {TYPOS_EN[0]} (and 2 more)"
    linted = owner.post("/processes", data=LINT, content_type="application/xml",
                        headers={"X-Filename": "lint.bpmn", "Accept-Language": "zh-CN"})
    assert sorted(d["message"] for d in linted.json["error"]["details"]) == sorted(LINT_SAID["en"])
