"""Alembic environment: run by engine.db.upgrade() with a connection in config.attributes."""
from __future__ import annotations

from alembic import context

from models import Base

target_metadata = Base.metadata


def run_migrations_online() -> None:
    connection = context.config.attributes.get("connection")
    if connection is None:
        from sqlalchemy import create_engine

        connection = create_engine(str(context.config.get_main_option("sqlalchemy.url"))).connect()
    context.configure(connection=connection, target_metadata=target_metadata,
                      render_as_batch=connection.dialect.name == "sqlite", compare_type=True)
    with context.begin_transaction():
        context.run_migrations()


run_migrations_online()
