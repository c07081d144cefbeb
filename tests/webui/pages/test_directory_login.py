"""The login page signs directory people in (and keeps the local admin working)."""
from __future__ import annotations

import pytest

from engine.config import EngineConfig
from tests import directory_server as ds
from tests.webui.pages.conftest import PASSWORD, build_app

pytestmark = [pytest.mark.ldap, pytest.mark.skipif(not ds.available(), reason="Debian's slapd is not installed")]


def test_the_login_form_signs_in_at_the_directory_and_locally(slapd, ui_engine, people, tmp_path):
    path = tmp_path / "directory.toml"
    path.write_text(f"""[ldap]
url = "{slapd.ldaps_url}"
ca_file = "{slapd.ca_file}"
user_dn_template = "uid={{username}},ou=people,{ds.BASE}"
group_base = "ou=groups,{ds.BASE}"
[ldap.groups]
"ops-engineers" = ["engineer"]
""")
    app = build_app(ui_engine, ENGINE_CONFIG=EngineConfig(database_url=str(ui_engine.url), directory_config=path,
                                                          secret_key="tests"))
    try:
        client = app.test_client()
        refused = client.post("/login", data={"name": "alice", "password": "wrong-password"})
        assert refused.status_code == 401 and "Wrong user name or password" in refused.get_data(as_text=True)
        signed = client.post("/login", data={"name": "alice", "password": ds.password("alice")})
        assert signed.status_code == 302
        assert client.get("/tasks").status_code == 200  # alice is an engineer through ops-engineers
        admin = app.test_client()
        assert admin.post("/login", data={"name": "ada", "password": PASSWORD}).status_code == 302  # local
    finally:
        app.extensions["opsgate_engine"].dispose()
