"""Pages under hostile input (issue 13): no open redirect after sign-in, odd input answered
400/404 rather than 500, and the admin user form never deactivates on a half-sent post."""
from __future__ import annotations

from engine.people import users
from tests.webui.pages.conftest import PASSWORD

BIG = "9" * 30


OFF_SITE = [
    "/%09/evil.example", "/%0A/evil.example", "/%0D%0A/evil.example", "//evil.example",
    "/\\evil.example", "\\\\evil.example", "https://evil.example/", "http:/evil.example",
    "javascript:alert(1)", "/%E2%80%A8/evil.example", " //evil.example", "%2F%2Fevil.example",
    "/%C2%85/evil.example", "/%5C/evil.example", "",
]


def test_sign_in_never_redirects_off_site(app, make_user, session):
    make_user("admin", name="ada", password=PASSWORD)
    session.commit()
    for target in OFF_SITE:
        client = app.test_client()
        response = client.post(f"/login?next={target}", data={"name": "ada", "password": PASSWORD})
        assert (response.status_code, response.headers["Location"]) == (302, "/"), target
    # A NUL is refused outright (400, no sign-in, no redirect).
    response = app.test_client().post("/login?next=/%00/evil", data={"name": "ada", "password": PASSWORD})
    assert response.status_code == 400 and "Location" not in response.headers
    for target, location in (("/cases?status=open", "/cases?status=open"), ("/tasks", "/tasks"),
                             ("/cases/%C3%A9t%C3%A9", "/cases/%C3%A9t%C3%A9")):
        response = app.test_client().post(f"/login?next={target}", data={"name": "ada", "password": PASSWORD})
        assert (response.status_code, response.headers["Location"]) == (302, location)


def test_the_language_form_does_not_redirect_off_site(login, people):
    client = login(people["requester"])
    response = client.post("/language", data={"locale": "en", "next": "/\t/evil.example"})
    assert response.headers["Location"] == "/"


ODD_PAGES = [
    ("/cases/%C2%B2", 404, "no case"),
    (f"/cases/{BIG}", 404, "no case"),
    ("/cases/a%00b", 400, "NUL"),
    (f"/cases?page={BIG}", 400, "page"),
    ("/cases?page=%C2%B2", 400, "page"),
    ("/audit?case=a%00b", 400, "NUL"),
    (f"/audit?page={BIG}", 400, "page"),
    ("/tasks/a%00b", 400, "NUL"),
    (f"/admin/users/{BIG}", 404, "There is no such page"),
    (f"/processes/x/compare?a={BIG}", 400, "a:"),
    (f"/admin/webhooks/deliveries?subscription={BIG}", 400, "subscription"),
]


def test_odd_input_on_pages_is_400_or_404(login, people):
    client = login(people["admin"])
    for path, status, text in ODD_PAGES:
        response = client.get(path)
        assert response.status_code == status, path
        assert text in response.get_data(as_text=True), path


def test_werkzeug_refusals_are_the_sites_page_in_the_readers_language(login, people):
    """An address that matches no page, a query value a page cannot use and a method a page does not
    take are answered with the site's error page (menu, title, sentence) in the reader's language,
    not Werkzeug's bare English page; a refused value names its field."""
    client = login(people["requester"])
    for path, status, english, chinese in [
            ("/no-such-page", 404, "There is no such page", "没有这个页面"),
            ("/cases?page=abc", 400, "This page was asked for with a value it cannot use", "无法使用的值")]:
        page = client.get(path).get_data(as_text=True)
        assert english in page and 'id="refusal"' in page and "The requested URL" not in page, path
        if status == 400:
            assert "page: must be a whole number" in page
        client.post("/language", data={"locale": "zh_Hans", "next": "/"})
        response = client.get(path)
        assert response.status_code == status
        assert chinese in response.get_data(as_text=True), path
        client.post("/language", data={"locale": "en", "next": "/"})
    response = client.delete("/cases")
    assert response.status_code == 405 and "GET" in response.headers["Allow"]
    assert "This page cannot be used that way" in response.get_data(as_text=True)
    anonymous = client.application.test_client().get("/no-such-page")
    assert anonymous.status_code == 404 and "There is no such page" in anonymous.get_data(as_text=True)


def test_a_form_field_with_a_nul_is_refused(login, people, session):
    client = login(people["admin"])
    response = client.post("/admin/groups", data={"name": "night\x00shift"})
    assert response.status_code == 400
    assert "NUL" in response.get_data(as_text=True)


def test_a_half_sent_user_form_changes_nothing(login, people, session):
    admin = login(people["admin"])
    erin = people["engineer"]
    response = admin.post(f"/admin/users/{erin.id}", data={})  # only the CSRF token, as in the report
    assert response.status_code == 422
    assert "incomplete" in response.get_data(as_text=True)
    session.expire_all()
    erin = users.get_user(session, "erin")
    assert erin.active and "engineer" in erin.group_names
    page = admin.get(f"/admin/users/{erin.id}").get_data(as_text=True)
    assert 'name="whole_form"' in page and 'type="hidden"' in page
    # The page's own form, unticked: that is a deliberate deactivation.
    response = admin.post(f"/admin/users/{erin.id}", data={"whole_form": "1", "groups": ["engineer"]})
    assert response.status_code == 302
    session.expire_all()
    assert not users.get_user(session, "erin").active
