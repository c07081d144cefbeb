"""The deploy checks' findings said in the reader's language on the process pages (the upload
page's list, the modeler's JSON answer with its details and warnings), and as today's English,
byte for byte, on an English page and in the API (engine.errors.said through webui.i18n.say)."""
# ruff: noqa: RUF001 - the Chinese sentences are written with Chinese punctuation
from __future__ import annotations

import io

import pytest
from markupsafe import escape

HEAD = (b'<?xml version="1.0" encoding="UTF-8"?>\n'
        b'<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" '
        b'xmlns:camunda="http://camunda.org/schema/1.0/bpmn" id="d" targetNamespace="x">\n')

# Passes the structure checks; refused for what a process owner writes wrong most: a group nobody
# knows, a form field of a type opsgate has not, a timer that is not ISO 8601.
TYPOS = HEAD + b"""<bpmn:process id="typos" name="Typos" isExecutable="true">
<bpmn:startEvent id="start" name="Start"/>
<bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="check"/>
<bpmn:userTask id="check" name="Check" camunda:candidateGroups="night_owls">
<bpmn:extensionElements><camunda:formData>
<camunda:formField id="size" label="Size" type="weird"/>
</camunda:formData></bpmn:extensionElements>
</bpmn:userTask>
<bpmn:sequenceFlow id="f2" sourceRef="check" targetRef="wait"/>
<bpmn:intermediateCatchEvent id="wait" name="Wait">
<bpmn:timerEventDefinition><bpmn:timeDuration>P1X</bpmn:timeDuration></bpmn:timerEventDefinition>
</bpmn:intermediateCatchEvent>
<bpmn:sequenceFlow id="f3" sourceRef="wait" targetRef="done"/>
<bpmn:endEvent id="done" name="Done"/>
</bpmn:process></bpmn:definitions>"""

TYPOS_EN = [
    "timeDuration 'P1X' is not a valid ISO 8601 value",
    "field 'size' has type 'weird'; use one of string, text, integer, number, boolean, date, datetime, enum",
    "group 'night_owls' (lane or candidate group) is not a known group; known: ",
]
TYPOS_ZH = [
    "timeDuration 'P1X' 不是有效的 ISO 8601 值",
    "表单字段 'size' 的类型为 'weird'；请使用以下类型之一：string, text, integer, number, boolean, date, datetime, enum",
    "用户组 'night_owls'（泳道或候选组）不是已知的组；已知的组：",
]

# Refused by the lint rules: an exclusive gateway's flow without a condition, a task on its own.
LINT = HEAD + b"""<bpmn:process id="lint" name="Lint" isExecutable="true">
<bpmn:startEvent id="start" name="Start"/>
<bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="gw"/>
<bpmn:exclusiveGateway id="gw" name="Which?"/>
<bpmn:sequenceFlow id="f2" name="yes" sourceRef="gw" targetRef="done"><bpmn:conditionExpression>ok</bpmn:conditionExpression>
</bpmn:sequenceFlow>
<bpmn:sequenceFlow id="f3" sourceRef="gw" targetRef="done"/>
<bpmn:endEvent id="done" name="Done"/>
<bpmn:task id="lonely" name="Lonely"/>
</bpmn:process></bpmn:definitions>"""

LINT_SAID = {
    "en": ["[no-disconnected] Lonely (lonely) is not connected: connect it with sequence flows or delete it",
           "[conditional-flows] flow f3 out of Which? (gw) needs a condition or must be the default flow"],
    "zh_Hans": ["【no-disconnected】Lonely (lonely) 未连接：请用顺序流将其连接，或将其删除",
                "【conditional-flows】从 Which? (gw) 流出的顺序流 f3 需要设置条件，或设为默认流"],
}

# Deploys, with warnings: a task without a label, group or form.
PLAIN = HEAD + b"""<bpmn:process id="plain" name="Plain" isExecutable="true">
<bpmn:startEvent id="start" name="Start"/>
<bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="work"/>
<bpmn:userTask id="work"/>
<bpmn:sequenceFlow id="f2" sourceRef="work" targetRef="done"/>
<bpmn:endEvent id="done" name="Done"/>
</bpmn:process></bpmn:definitions>"""

PLAIN_SAID = {
    "en": ["[label-required] work has no label: give it a name",
           "task has no candidate group: it goes to the process's default group 'process_owner' (set a lane named "
           "after a group, camunda:candidateGroups, or the process property default_group)",
           "task has no form: people complete it with a plain Done and an optional comment (add camunda:formData "
           "fields to ask for more)"],
    "zh_Hans": ["【label-required】work 没有标签：请为其命名",
                "任务没有候选组：它将交给流程的默认组 'process_owner'（请设置以用户组命名的泳道、"
                "camunda:candidateGroups，或流程属性 default_group）",
                "任务没有表单：办理人只需点击“完成”并可选填备注（如需收集更多信息，请添加 camunda:formData 字段）"],
}


def _reader(login, user, locale: str):
    client = login(user)
    client.post("/language", data={"locale": locale, "next": "/"})
    return client


def _upload(client, name: str, source: bytes):
    return client.post("/processes/upload", data={"files": (io.BytesIO(source), name)},
                       content_type="multipart/form-data")


def _errors(page: str) -> str:
    start = page.index('id="upload-errors"')
    return page[start:page.index("</div>", start)]


@pytest.mark.parametrize(("locale", "said", "where"), [
    ("en", TYPOS_EN, "typos.bpmn, element wait, line 13: "),
    ("zh_Hans", TYPOS_ZH, "typos.bpmn，元素 wait，第 13 行："),
])
def test_an_owner_reads_the_upload_refusal_in_their_language(login, people, locale, said, where):
    response = _upload(_reader(login, people["process_owner"], locale), "typos.bpmn", TYPOS)
    assert response.status_code == 422
    errors = _errors(response.get_data(as_text=True))
    assert all(str(escape(part)) in errors for part in said), errors
    assert f"<strong>{escape(where + said[0])}" in errors
    # A Chinese reader reads no English sentence of the checks (values stay as written).
    if locale == "zh_Hans":
        assert "is not a known group" not in errors and "is not a valid" not in errors
        assert "（另有 2 个问题）</strong>" in errors


@pytest.mark.parametrize("locale", ["en", "zh_Hans"])
def test_the_modeler_lists_the_lint_findings_in_the_readers_language(login, people, locale):
    response = _reader(login, people["process_owner"], locale).post("/processes/deploy?filename=lint.bpmn",
                                                                    data=LINT)
    assert response.status_code == 422
    details = response.get_json()["error"]["details"]
    assert sorted(d["message"] for d in details) == sorted(LINT_SAID[locale])
    assert {d["rule"] for d in details} == {"no-disconnected", "conditional-flows"}


@pytest.mark.parametrize("locale", ["en", "zh_Hans"])
def test_the_modeler_lists_the_warnings_of_a_deploy_in_the_readers_language(login, people, locale):
    response = _reader(login, people["process_owner"], locale).post("/processes/deploy?filename=plain.bpmn",
                                                                    data=PLAIN)
    assert response.status_code == 200, response.get_json()
    assert [w["message"] for w in response.get_json()["warnings"]] == PLAIN_SAID[locale]



# A descriptive model: the reasons the engine would not run it, stored in English, said on its page.
@pytest.mark.parametrize("locale", ["en", "zh_Hans"])
def test_a_descriptive_models_reasons_are_said_in_the_readers_language(login, people, locale):
    client = _reader(login, people["process_owner"], locale)
    response = client.post("/processes/models", data={"file": (io.BytesIO(LINT), "drawn.bpmn")},
                           content_type="multipart/form-data")
    assert response.status_code == 302
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    reasons = page[page.index('id="reasons"'):page.index("</ul>", page.index('id="reasons"'))]
    assert all(str(escape(said)) in reasons for said in LINT_SAID[locale]), reasons
