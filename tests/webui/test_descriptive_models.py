"""Descriptive models (#16): uploaded through the API and the page, listed, drawn, marked not executable."""
from __future__ import annotations

from tests.conftest import DATA

MIWG = DATA / "miwg"


def test_the_api_keeps_a_descriptive_model_once(api_as):
    api = api_as("process_owner")
    source = (MIWG / "A.1.0.bpmn").read_bytes()
    first = api.post("/models", data=source, headers={"Content-Type": "application/xml", "X-Filename": "A.1.0.bpmn"})
    assert first.status_code == 201
    body = first.json
    assert body["executable"] is False and body["filename"] == "A.1.0.bpmn"
    assert body["reasons"][0]["message"].startswith("no executable process")
    again = api.post("/models", data=source, headers={"Content-Type": "application/xml"})
    assert again.status_code == 200 and again.json["id"] == body["id"]
    assert [m["id"] for m in api.get("/models").json] == [body["id"]]
    served = api.get(f"/models/{body['id']}/bpmn").data  # stored as UTF-8 (the file says ISO-8859-1)
    assert served.startswith(b'<?xml version="1.0" encoding="UTF-8"') and b"definitions" in served
    assert api_as("engineer").post("/models", data=source, headers={"Content-Type": "application/xml"}
                                   ).status_code == 403


def test_the_page_draws_it_marked_not_executable(client, app, session, make_user):
    owner = make_user("process_owner")
    session.commit()
    client.post(f"/_test/login/{owner.id}")
    page = client.get("/processes/models")
    assert page.status_code == 200 and b"Descriptive models" in page.data
    token = page.data.split(b'name="csrf_token" value="')[1].split(b'"')[0].decode()
    with (MIWG / "C.8.0.bpmn").open("rb") as handle:
        sent = client.post("/processes/models", data={"csrf_token": token, "file": (handle, "C.8.0.bpmn")},
                           content_type="multipart/form-data")
    assert sent.status_code == 302
    shown = client.get(sent.headers["Location"])
    text = shown.data.decode()
    assert shown.status_code == 200
    assert 'id="not-executable"' in text and "Not executable" in text and "documentation only" in text
    assert "no executable process" in text
    assert b"definitions" in client.get(sent.headers["Location"] + "/bpmn").data
