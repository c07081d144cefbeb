"""The Alembic history has one head and builds exactly the schema the models declare."""
from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory

from engine import db
from models import Base


def test_single_head():
    heads = ScriptDirectory.from_config(db.alembic_config()).get_heads()
    assert len(heads) == 1, f"several Alembic heads: {heads}; re-point the newest down_revision"


def test_migrations_match_the_models(sqlite_engine):
    with sqlite_engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": False}), Base.metadata)
    assert diff == [], f"models and migrations differ; add a revision: {diff}"


def test_upgrade_twice_is_harmless(tmp_path):
    engine = db.make_engine(f"sqlite:///{tmp_path}/twice.db")
    db.upgrade(engine)
    db.upgrade(engine)
