"""The engine's settings are read once, at the edge, and travel with the sessions."""
from __future__ import annotations

from pathlib import Path

import pytest

from engine import db
from engine.config import DEFAULTS, EngineConfig, settings


def test_settings_come_from_the_environment_given():
    config = EngineConfig.from_environ({
        "OPSGATE_DATABASE_URL": "postgresql+psycopg://ops@db/opsgate", "OPSGATE_INSTANCE_CACHE": "0",
        "OPSGATE_SPEC_CACHE": "8", "OPSGATE_BASE_URL": "https://ops.example.org/", "OPSGATE_SMTP_HOST": "mail",
        "OPSGATE_EVALUATION_CONFIG": "/etc/opsgate/evaluation.toml", "HOME": "/root"})
    assert config.database_url == "postgresql+psycopg://ops@db/opsgate"
    assert (config.instance_cache, config.spec_cache) == (0, 8)
    assert config.base_url == "https://ops.example.org" and config.mail_wanted
    assert config.evaluation_config == Path("/etc/opsgate/evaluation.toml")
    assert EngineConfig.from_environ({"OPSGATE_DATABASE_URL": "sqlite:///a.db"},
                                     database_url="sqlite:///b.db").database_url == "sqlite:///b.db"


def test_a_bad_number_is_named():
    with pytest.raises(ValueError, match="OPSGATE_INSTANCE_CACHE must be a whole number, not 'lots'"):
        EngineConfig.from_environ({"OPSGATE_INSTANCE_CACHE": "lots"})


def test_sessions_carry_the_settings_their_maker_was_given(sqlite_engine):
    config = EngineConfig(instance_cache=3)
    with db.make_sessionmaker(sqlite_engine, config)() as session:
        assert settings(session) is config
    with db.make_sessionmaker(sqlite_engine)() as session:
        assert settings(session) is DEFAULTS  # no environment read behind the caller's back


def test_nothing_in_the_engine_reads_the_environment_but_its_configuration():
    engine_dir = Path(__file__).resolve().parents[2] / "engine"
    readers = sorted(str(p.relative_to(engine_dir)) for p in engine_dir.rglob("*.py")
                     if "os.environ" in p.read_text() or "getenv(" in p.read_text())
    assert readers == ["config.py"]
