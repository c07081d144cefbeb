"""Process definition files through the pages: downloads that never render, the decision table
editor's deploy, and the modeler's deploy of a BPMN that calls an already deployed decision."""
from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
WORKFLOWS = ROOT / "workflows"


def _deploy_incident(deploy, session):
    deploy(WORKFLOWS / "incident.bpmn", WORKFLOWS / "incident_priority.dmn")
    session.commit()


def test_bpmn_and_dmn_downloads_are_sandboxed_attachments(login, people, deploy, session):
    hostile = (WORKFLOWS / "incident.bpmn").read_text().replace(
        "<bpmn:documentation>", '<bpmn:documentation><![CDATA[<html:script xmlns:html="http://www.w3.org/1999/xhtml">'
                                'alert(1)</html:script>]]>', 1)
    deploy(("incident.bpmn", hostile), WORKFLOWS / "incident_priority.dmn")
    session.commit()
    client = login(people["requester"])
    for url, name in (("/processes/incident/1/bpmn", "incident-v1.bpmn"),
                      ("/processes/incident/1/files/incident_priority.dmn", "incident_priority.dmn")):
        response = client.get(url)
        assert response.status_code == 200
        assert response.headers["Content-Disposition"] == f'attachment; filename="{name}"'
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["Content-Security-Policy"].startswith("sandbox")
    missing = client.get("/processes/incident/1/files/other.dmn")
    assert missing.status_code == 404 and "no decision file" in missing.get_data(as_text=True)


def test_the_api_download_is_an_attachment_too(login, people, deploy, session):
    _deploy_incident(deploy, session)
    response = login(people["auditor"]).get("/api/v1/processes/incident/bpmn")
    assert response.headers["Content-Disposition"] == 'attachment; filename="incident-v1.bpmn"'
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_the_modeler_deploys_an_incident_edit_with_its_deployed_decision(login, people, deploy, session):
    _deploy_incident(deploy, session)
    owner = login(people["process_owner"])
    xml = (WORKFLOWS / "incident.bpmn").read_text().replace('name="Set priority and targets"',
                                                             'name="Set the priority and targets"')
    answer = owner.post("/processes/deploy?filename=incident.bpmn", data=xml.encode(), content_type="application/xml")
    body = answer.get_json()
    assert answer.status_code == 200, body
    assert body["version"] == 2 and not body["unchanged"]
    page = owner.get("/processes/incident").get_data(as_text=True)
    assert "incident_priority.dmn" in page and "Edit decision table" in page


def test_the_decision_table_editor_deploys_an_edited_table(login, people, deploy, session):
    _deploy_incident(deploy, session)
    owner = login(people["process_owner"])
    page = owner.get("/processes/incident/decisions/incident_priority.dmn/edit")
    assert page.status_code == 200 and "dmn-modeler.production.min.js" in page.get_data(as_text=True)
    dmn = (WORKFLOWS / "incident_priority.dmn").read_text()
    edited = dmn.replace('<text>"PT2H"</text>', '<text>"PT3H"</text>', 1)
    answer = owner.post("/processes/incident/decisions/incident_priority.dmn/deploy", data=edited.encode(),
                        content_type="application/xml")
    assert answer.status_code == 200, answer.get_json()
    assert answer.get_json()["version"] == 2
    stored = owner.get("/processes/incident/2/files/incident_priority.dmn").get_data(as_text=True)
    assert '"PT3H"' in stored
    forbidden = dmn.replace('<text>"PT2H"</text>', "<text>__import__('os')</text>", 1)
    refused = owner.post("/processes/incident/decisions/incident_priority.dmn/deploy", data=forbidden.encode(),
                         content_type="application/xml")
    error = refused.get_json()["error"]
    assert refused.status_code == 422 and error["details"][0]["file"] == "incident_priority.dmn"
    assert error["details"][0]["element_id"] == "rule_1_resolve"
    assert login(people["requester"]).get("/processes/incident/decisions/incident_priority.dmn/edit").status_code == 403
