"""engine.errors.Said: a refusal is the same English text it always was, and keeps its template
and values for the pages to say it in the reader's language."""
from __future__ import annotations

import json

import pytest

from engine.errors import GroupName, Name, NotAllowed, Said, said
from engine.people.roles import check_role, group_titles_text
from models import User


def test_a_said_sentence_is_its_english_text():
    text = said("“%(task)s” is work for %(groups)s", task=Name("Restore service", "恢复服务"),
                groups=group_titles_text(["engineer"]))
    assert text == "“Restore service” is work for the Engineer group"
    assert isinstance(text, str) and type(str(text)) is str and json.dumps({"m": text}) == json.dumps({"m": str(text)})
    assert text.template == "“%(task)s” is work for %(groups)s"
    assert text.values["task"] == Name("Restore service", "恢复服务")
    assert text.values["groups"].values["group"] == GroupName("Engineer", "运维工程师", key="engineer")


def test_values_are_values_and_a_template_without_values_is_left_alone():
    assert said("no task %(task)s", task="100%s <b>") == "no task 100%s <b>"
    assert said("100% sure") == "100% sure"


def test_several_groups_and_unknown_keys():
    assert group_titles_text(["admin", "auditor"]) == "the groups Administrator, Auditor"
    assert group_titles_text(["night_shift"]) == "the night_shift group"


def test_an_error_carries_the_said_message():
    with pytest.raises(NotAllowed) as refused:
        check_role(User(name="rita", groups=[]), "admin", action=said("Naming a group"))
    message = refused.value.message
    assert isinstance(message, Said) and str(refused.value) == message
    assert message == "Naming a group is for the Administrator group, and you are not a member (role rule)."
    with pytest.raises(NotAllowed, match=r"^Naming a group is for"):
        check_role(User(name="rita", groups=[]), "admin", action="naming a group")
