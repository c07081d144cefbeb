"""Queries bounded by what is live, not by history.

* human_task_group keeps only the rows of ready tasks: a trigger deletes a task's group rows
  when its state leaves `ready` (completed or cancelled), in the statement that ends it, so
  no action pays a round trip for it. The rows of tasks that ended before this revision are
  deleted here. (An ended task still says who could act on it in `candidate_groups`.)
* human_task gets two partial indexes that hold only ready rows: the inbox order
  (due_at, created_at, id) and the "mine" inbox by assignee. Their size follows the work
  waiting, not the years of finished tasks.
* audit_event gets an index on `at` (the auditor's search, newest first, and its date
  range) and gets back its `case_id` index (the search by process goes through the process's
  cases).

Revision ID: 0010_live_inbox_and_audit_search
Revises: 0009_group_titles_and_task_bars
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010_live_inbox_and_audit_search"
down_revision = "0009_group_titles_and_task_bars"
branch_labels = None
depends_on = None

_READY = sa.text("state = 'ready'")

_SQLITE_TRIGGER = """
CREATE TRIGGER human_task_ended_groups AFTER UPDATE OF state ON human_task
WHEN NEW.state <> 'ready' AND OLD.state = 'ready'
BEGIN
    DELETE FROM human_task_group WHERE task_id = NEW.id;
END
"""

_PG_FUNCTION = """
CREATE FUNCTION human_task_ended_groups() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM human_task_group WHERE task_id = NEW.id;
    RETURN NULL;
END
$$
"""

_PG_TRIGGER = """
CREATE TRIGGER human_task_ended_groups AFTER UPDATE OF state ON human_task
FOR EACH ROW WHEN (NEW.state <> 'ready' AND OLD.state = 'ready')
EXECUTE FUNCTION human_task_ended_groups()
"""


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_PG_FUNCTION)
        op.execute(_PG_TRIGGER)
    else:
        op.execute(_SQLITE_TRIGGER)
    op.execute("DELETE FROM human_task_group WHERE task_id IN (SELECT id FROM human_task WHERE state <> 'ready')")
    op.create_index("ix_human_task_ready", "human_task", ["due_at", "created_at", "id"], unique=False,
                    sqlite_where=_READY, postgresql_where=_READY)
    op.create_index("ix_human_task_ready_assignee", "human_task", ["assignee_id", "due_at"], unique=False,
                    sqlite_where=_READY, postgresql_where=_READY)
    op.create_index("ix_audit_event_at", "audit_event", ["at"], unique=False)
    op.create_index("ix_audit_event_case_id", "audit_event", ["case_id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_audit_event_case_id", table_name="audit_event")
    op.drop_index("ix_audit_event_at", table_name="audit_event")
    op.drop_index("ix_human_task_ready_assignee", table_name="human_task")
    op.drop_index("ix_human_task_ready", table_name="human_task")
    op.execute("DROP TRIGGER human_task_ended_groups" +
               (" ON human_task" if op.get_bind().dialect.name == "postgresql" else ""))
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION human_task_ended_groups()")
    # The group rows of tasks that ended are not brought back: the inbox never read them (it
    # filtered on ready tasks), and each ended task keeps its candidate_groups.
