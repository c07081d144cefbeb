"""The Simplified Chinese catalogue covers every message of the UI and is compiled."""
from __future__ import annotations

import gettext
from pathlib import Path

from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parents[3] / "webui" / "translations"


def _ids(path: Path) -> dict[str, str]:
    with path.open("rb") as f:
        catalog = read_po(f)
    return {(m.id if isinstance(m.id, str) else m.id[0]): m.string for m in catalog if m.id}


def test_every_message_has_a_chinese_translation():
    template = _ids(ROOT / "messages.pot")
    chinese = _ids(ROOT / "zh_Hans" / "LC_MESSAGES" / "messages.po")
    assert set(template) <= set(chinese), sorted(set(template) - set(chinese))
    untranslated = sorted(k for k in template if not chinese[k])
    assert not untranslated, untranslated


def test_compiled_catalogue_matches_the_po_file():
    chinese = _ids(ROOT / "zh_Hans" / "LC_MESSAGES" / "messages.po")
    with (ROOT / "zh_Hans" / "LC_MESSAGES" / "messages.mo").open("rb") as f:
        compiled = gettext.GNUTranslations(f)
    stale = [k for k, v in chinese.items() if isinstance(v, str) and v and compiled.gettext(k) != v]
    assert not stale, f"run pybabel compile: {stale[:5]}"


def test_pages_render_in_chinese(login, people):
    client = login(people["requester"])
    client.post("/language", data={"locale": "zh_Hans", "next": "/tasks"})
    page = client.get("/tasks").get_data(as_text=True)
    assert 'lang="zh-Hans"' in page and "待办" in page


def test_browser_language_decides_before_a_choice(app):
    page = app.test_client().get("/login", headers={"Accept-Language": "zh-CN,zh;q=0.9"})
    assert "登录" in page.get_data(as_text=True)


def test_every_audit_event_the_engine_writes_has_a_name():
    """The audit trail and a case's history name each event in the reader's language: an event type
    without a label read as its key's words, in English, on Chinese pages too. The engine's audit
    calls are read from its source (`type=` of audit.append / append_system)."""
    import re

    from webui.pages.common import EVENT_LABELS

    written: set[str] = set()
    for path in (ROOT.parents[1] / "engine").rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        for call in re.finditer(r"\bappend(?:_system)?\(", text):
            argument = re.search(r"\btype=([^,\n]+)", text[call.end():call.end() + 500])
            if argument:
                for literal in re.findall(r'"([a-z_{}]+)"', argument.group(1)):
                    written |= {literal.replace("{kind}", k) for k in ("message", "signal")}
    assert {"task_claimed", "webhook_paused", "signal_received", "cases_migrated"} <= written  # the scan works
    assert not sorted(written - set(EVENT_LABELS))
