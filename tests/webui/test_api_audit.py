"""JSON API: verifying the audit hash chain (auditor, admin)."""

from __future__ import annotations

import pytest
from sqlalchemy import update

from models import AuditEvent


@pytest.mark.parametrize("role", ["auditor", "admin"])
def test_verify_all_and_one_case(api_as, ticket, role):
    case = api_as("service_desk").open_ticket()
    api = api_as(role)
    everything = api.get("/audit/verify")
    assert everything.status_code == 200
    assert everything.json["ok"] is True and everything.json["checked"] >= 1
    assert everything.json["first_bad"] is None
    one = api.get(f"/audit/verify?case={case['key']}")
    assert one.status_code == 200 and one.json["ok"] is True


def test_verify_names_the_first_tampered_event(api_as, ticket, session):
    case = api_as("service_desk").open_ticket()
    session.execute(update(AuditEvent).where(AuditEvent.chain == case["key"], AuditEvent.seq == 1)
                    .values(actor="mallory"))
    session.commit()
    response = api_as("auditor").get(f"/audit/verify?case={case['key']}")
    assert response.status_code == 200
    assert response.json["ok"] is False
    assert response.json["first_bad"]["seq"] == 1


def test_verify_is_for_auditors_and_admins_only(api_as, ticket):
    response = api_as("engineer").get("/audit/verify")
    assert response.status_code == 403
    assert "Auditor" in response.json["error"]["message"] and "role rule" in response.json["error"]["message"]


def test_verify_unknown_case_is_404(api_as, ticket):
    assert api_as("auditor").get("/audit/verify?case=TKT-424242").status_code == 404
