"""Fixtures shared by the engine's tests."""
from __future__ import annotations

import pytest


@pytest.fixture
def people(make_user):
    """The cast of tests/data/four_steps.bpmn: a requester and one person per lane (two engineers,
    so separation of duties has someone left). test_services.py adds an auditor to its own."""
    return {"req": make_user(name="rita"), "desk": make_user("service_desk", name="sam"),
            "eng": make_user("engineer", name="erin"), "eng2": make_user("engineer", name="ed"),
            "cm": make_user("change_manager", name="carl")}
