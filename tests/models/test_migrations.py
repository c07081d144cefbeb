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


def test_hot_path_indexes_migrate_down_and_up_keeping_the_rows(tmp_path):
    from alembic import command
    from sqlalchemy import text

    from engine.cases import services
    from engine.people import users
    from engine.processes import deployment
    from tests.conftest import DATA

    engine = db.make_engine(f"sqlite:///{tmp_path}/round.db")
    db.upgrade(engine)
    with db.make_sessionmaker(engine).begin() as s:
        deployment.deploy(s, [("four_steps.bpmn", (DATA / "four_steps.bpmn").read_bytes())], actor=None)
        services.start_case(s, "four_steps", {"title": "t", "urgent": True},
                            actor=users.create_user(s, "req", [], actor=None))
    cfg = db.alembic_config(engine)
    command.downgrade(cfg, "0006_task_groups")
    command.upgrade(cfg, "head")
    with engine.connect() as c:
        assert c.execute(text("SELECT count(*) FROM human_task_group")).scalar() == 1  # not cascaded away
        assert c.execute(text("SELECT count(*) FROM human_task WHERE announced_at IS NULL")).scalar() == 0
        sql = c.execute(text("SELECT sql FROM sqlite_master WHERE name = 'human_task_group'")).scalar()
    assert "WITHOUT ROWID" in sql
    engine.dispose()


def _group_titles_round_trip(engine) -> None:
    from alembic import command
    from sqlalchemy import text

    from engine.people import users

    with db.make_sessionmaker(engine).begin() as s:
        group = users.get_group(s, "cab", create=True)
        group.title, group.title_zh = "Change board", "变更委员会"
    cfg = db.alembic_config(engine)
    with engine.begin() as connection:  # on the engine's own connection, as db.upgrade runs them
        cfg.attributes["connection"] = connection
        command.downgrade(cfg, "0008_integrations")
        assert connection.execute(text('SELECT count(*) FROM "group" WHERE name = \'cab\'')).scalar() == 1
        command.upgrade(cfg, "head")
    with engine.connect() as c:  # the names come back empty: the catalogue's names apply again
        assert c.execute(text('SELECT title, title_zh FROM "group" WHERE name = \'cab\'')).one() == ("", "")
        assert c.execute(text("SELECT count(*) FROM human_task_bar")).scalar() == 0


def test_group_titles_and_task_bars_migrate_down_and_up(tmp_path):
    engine = db.make_engine(f"sqlite:///{tmp_path}/titles.db")
    db.upgrade(engine)
    _group_titles_round_trip(engine)


def test_group_titles_and_task_bars_migrate_down_and_up_on_postgresql(pg_clean):
    _group_titles_round_trip(pg_clean)


def _live_inbox_round_trip(engine) -> None:
    """0010: down, an ended task leaves its group rows behind (no trigger); up, they are cleaned
    and the next task that ends takes its rows with it."""
    from alembic import command
    from sqlalchemy import text

    from engine.cases import queries, services
    from engine.people import users
    from engine.processes import deployment
    from models import User
    from tests.conftest import DATA

    maker = db.make_sessionmaker(engine)
    with maker.begin() as s:
        deployment.deploy(s, [("four_steps.bpmn", (DATA / "four_steps.bpmn").read_bytes())], actor=None)
        desk = users.create_user(s, "desk", ["service_desk"], actor=None)
        case = services.start_case(s, "four_steps", {"title": "t", "urgent": True},
                                   actor=users.create_user(s, "req", [], actor=None))
        case_id, desk_id = case.id, desk.id
    cfg = db.alembic_config(engine)
    with engine.begin() as connection:
        cfg.attributes["connection"] = connection
        command.downgrade(cfg, "0009_group_titles_and_task_bars")
    with maker.begin() as s:  # the old schema: nothing removes an ended task's group rows
        s.execute(text("UPDATE human_task SET state = 'cancelled' WHERE case_id = :c"), {"c": case_id})
    with engine.connect() as c:
        assert c.execute(text("SELECT count(*) FROM human_task_group")).scalar() == 1
    with engine.begin() as connection:
        cfg.attributes["connection"] = connection
        command.upgrade(cfg, "head")
    with engine.connect() as c:
        assert c.execute(text("SELECT count(*) FROM human_task_group")).scalar() == 0
    with maker.begin() as s:
        case = services.start_case(s, "four_steps", {"title": "u", "urgent": True},
                                   actor=users.create_user(s, "req2", [], actor=None))
        desk = s.get(User, desk_id)
        (task,) = queries.open_tasks(s, case)
        assert s.execute(text("SELECT count(*) FROM human_task_group WHERE task_id = :t"), {"t": task.id}).scalar() == 1
        services.complete_task(s, task.id, {"category": "software"}, actor=desk)
        assert s.execute(text("SELECT count(*) FROM human_task_group WHERE task_id = :t"), {"t": task.id}).scalar() == 0
        assert s.execute(text("SELECT count(*) FROM human_task_group")).scalar() == 1  # the next task's


def test_live_inbox_migrates_down_and_up(tmp_path):
    engine = db.make_engine(f"sqlite:///{tmp_path}/live.db")
    db.upgrade(engine)
    _live_inbox_round_trip(engine)
    engine.dispose()


def test_live_inbox_migrates_down_and_up_on_postgresql(pg_clean):
    _live_inbox_round_trip(pg_clean)


def _event_waits_round_trip(engine) -> None:
    from alembic import command
    from sqlalchemy import inspect

    cfg = db.alembic_config(engine)
    with engine.begin() as connection:
        cfg.attributes["connection"] = connection
        command.downgrade(cfg, "0011_lists_in_order")
        assert not {"event_wait", "message_receipt", "descriptive_model"} & set(inspect(connection).get_table_names())
        command.upgrade(cfg, "head")
        assert {"event_wait", "message_receipt", "descriptive_model"} <= set(inspect(connection).get_table_names())


def test_event_waits_migrate_down_and_up(tmp_path):
    engine = db.make_engine(f"sqlite:///{tmp_path}/waits.db")
    db.upgrade(engine)
    _event_waits_round_trip(engine)
    engine.dispose()


def test_event_waits_migrate_down_and_up_on_postgresql(pg_clean):
    _event_waits_round_trip(pg_clean)


def _cases_by_period_round_trip(engine) -> None:
    from alembic import command
    from sqlalchemy import inspect

    cfg = db.alembic_config(engine)
    with engine.begin() as connection:
        cfg.attributes["connection"] = connection
        command.downgrade(cfg, "0012_event_waits")
        assert "ix_case_created_at" not in {i["name"] for i in inspect(connection).get_indexes("case")}
        command.upgrade(cfg, "head")
        assert {"ix_case_created_at", "ix_case_closed_at"} <= {i["name"] for i in inspect(connection).get_indexes("case")}


def test_cases_by_period_migrates_down_and_up(tmp_path):
    engine = db.make_engine(f"sqlite:///{tmp_path}/period.db")
    db.upgrade(engine)
    _cases_by_period_round_trip(engine)
    engine.dispose()


def test_cases_by_period_migrates_down_and_up_on_postgresql(pg_clean):
    _cases_by_period_round_trip(pg_clean)


def _review_round_trip(engine):
    from alembic import command
    from sqlalchemy import inspect as sa_inspect
    from sqlalchemy import text

    with engine.begin() as c:
        c.execute(text("INSERT INTO setting (key, value) VALUES ('four_eyes', 'on')"))
    cfg = db.alembic_config(engine)
    with engine.begin() as connection:
        cfg.attributes["connection"] = connection
        command.downgrade(cfg, "0014_descriptive_models")
        assert "setting" not in sa_inspect(connection).get_table_names()
        assert "status" not in {c["name"] for c in sa_inspect(connection).get_columns("process_definition")}
        command.upgrade(cfg, "head")
    with engine.connect() as c:
        assert c.execute(text("SELECT count(*) FROM setting")).scalar() == 0


def test_process_versions_review_migrates_down_and_up(tmp_path):
    engine = db.make_engine(f"sqlite:///{tmp_path}/review.db")
    db.upgrade(engine)
    _review_round_trip(engine)


def test_process_versions_review_migrates_down_and_up_on_postgresql(pg_clean):
    _review_round_trip(pg_clean)


def _case_facts_round_trip(engine) -> None:
    """Down to 0016 with an ended case and an open one, up again: the roles are back, the facts
    are marked incomplete (so the evaluation reads the events) until a rebuild writes them."""
    from alembic import command
    from sqlalchemy import text

    from engine.cases import queries, services
    from engine.people import users
    from engine.processes import case_facts, deployment
    from tests.conftest import DATA

    maker = db.make_sessionmaker(engine)
    with maker.begin() as s:
        case_facts.rebuild(s)  # nothing to write; marks them complete where pg_clean emptied the tables
        deployment.deploy(s, [("four_steps.bpmn", (DATA / "four_steps.bpmn").read_bytes())], actor=None)
        people = [users.create_user(s, n, g, actor=None) for n, g in
                  (("rita", []), ("sam", ["service_desk"]), ("erin", ["engineer"]), ("carl", ["change_manager"]),
                   ("ed", ["engineer"]))]
        for close in (True, False):
            case = services.start_case(s, "four_steps", {"title": "t", "system": "erp", "urgent": True},
                                       actor=people[0])
            steps = [("triage", {"category": "hardware"}, 1), ("diagnose", {"diagnosis": "x"}, 2)]
            if close:
                steps += [("approve_fix", {"decision": "approve"}, 3), ("implement", {"result": "ok"}, 4)]
            for element, data, who in steps:
                task = next(t for t in queries.open_tasks(s, case) if t.element_id == element)
                services.complete_task(s, task.id, data, actor=people[who])
        assert case_facts.complete(s)
        wanted = s.execute(text("SELECT * FROM case_fact ORDER BY case_id")).all()
        assert len(wanted) == 1
    cfg = db.alembic_config(engine)
    with engine.begin() as connection:
        cfg.attributes["connection"] = connection
        command.downgrade(cfg, "0016_delegation")
        tables = {"case_fact", "case_fact_state", "measure_role"}
        assert not tables & set(engine.dialect.get_table_names(connection))
        command.upgrade(cfg, "head")
        roles = connection.execute(text("SELECT count(*) FROM measure_role")).scalar()
        assert roles == sum(len(ids) for ids in case_facts.DEFAULT_ROLES.values())
    with maker.begin() as s:
        assert not case_facts.complete(s)  # one ended case has no fact row yet
        assert case_facts.rebuild(s) == 1 and case_facts.complete(s)
        assert s.execute(text("SELECT * FROM case_fact ORDER BY case_id")).all() == wanted


def test_case_facts_migrate_down_and_up(tmp_path):
    engine = db.make_engine(f"sqlite:///{tmp_path}/facts.db")
    db.upgrade(engine)
    _case_facts_round_trip(engine)
    engine.dispose()


def test_case_facts_migrate_down_and_up_on_postgresql(pg_clean):
    _case_facts_round_trip(pg_clean)


def _inbox_without_history_round_trip(engine) -> None:
    from alembic import command
    from sqlalchemy import inspect as sa_inspect
    from sqlalchemy import text

    def state(connection):
        indexes = {i["name"] for i in sa_inspect(connection).get_indexes("case")}
        options = set(connection.execute(text(
            "SELECT relname || ':' || array_to_string(reloptions, ',') FROM pg_class "
            "WHERE relname IN ('human_task', 'human_task_group') AND reloptions IS NOT NULL")).scalars()) \
            if connection.dialect.name == "postgresql" else set()
        return "ix_case_open_requester" in indexes, options

    serial = {"human_task:parallel_workers=0", "human_task_group:parallel_workers=0"}
    cfg = db.alembic_config(engine)
    with engine.begin() as connection:
        cfg.attributes["connection"] = connection
        assert state(connection) == (True, serial if engine.dialect.name == "postgresql" else set())
        command.downgrade(cfg, "0020_evaluation_month_reads")
        assert state(connection) == (False, set())
        command.upgrade(cfg, "head")
        assert state(connection)[0]


def test_inbox_without_history_migrates_down_and_up(tmp_path):
    engine = db.make_engine(f"sqlite:///{tmp_path}/inbox21.db")
    db.upgrade(engine)
    _inbox_without_history_round_trip(engine)
    engine.dispose()


def test_inbox_without_history_migrates_down_and_up_on_postgresql(pg_clean):
    _inbox_without_history_round_trip(pg_clean)


def _case_fact_month_round_trip(engine) -> None:
    """Down to 0021 with ended cases (one closed a month after it opened) and an open one, up again:
    migration 0022 counts the facts into the month summary with the shipped targets, as the cases'
    ends had; with incomplete facts it leaves the summary unkept."""
    import datetime as dt

    from alembic import command
    from sqlalchemy import text

    from engine.cases import queries, services
    from engine.evaluation import provider_measures
    from engine.evaluation.atoms import config_targets
    from engine.evaluation.config import load_config
    from engine.people import users
    from engine.processes import case_facts, deployment, fact_summary
    from engine.timing import clock
    from tests.conftest import DATA

    config = load_config()
    maker = db.make_sessionmaker(engine)
    start = dt.datetime(2026, 5, 30, 9, 0, tzinfo=dt.timezone.utc)
    with maker.begin() as s:
        case_facts.rebuild(s)  # marks the facts complete where pg_clean emptied the tables
        provider_measures.keep_summary(s, config)
        deployment.deploy(s, [("four_steps.bpmn", (DATA / "four_steps.bpmn").read_bytes())], actor=None)
        people = [users.create_user(s, n, g, actor=None) for n, g in
                  (("rita", []), ("sam", ["service_desk"]), ("erin", ["engineer"]), ("carl", ["change_manager"]),
                   ("ed", ["engineer"]))]
        for days in (0, 3, None):  # closed the same day, closed in June, left open
            with clock.frozen(start):
                case = services.start_case(s, "four_steps", {"title": "t", "system": "erp", "urgent": True},
                                           actor=people[0])
            steps = [("triage", {"category": "hardware"}, 1), ("diagnose", {"diagnosis": "x"}, 2)]
            if days is not None:
                steps += [("approve_fix", {"decision": "approve"}, 3), ("implement", {"result": "ok"}, 4)]
            for i, (element, data, who) in enumerate(steps):
                task = next(t for t in queries.open_tasks(s, case) if t.element_id == element)
                with clock.frozen(start + dt.timedelta(days=days or 0, hours=i + 1)):
                    services.complete_task(s, task.id, data, actor=people[who])
        wanted = s.execute(text("SELECT * FROM case_fact_month ORDER BY month, flags")).all()
        assert [(row.month, row.weight) for row in wanted] == [("2026-05", 1), ("2026-05", 1), ("2026-06", 1)]
    cfg = db.alembic_config(engine)
    for complete in (True, False):
        with engine.begin() as connection:
            cfg.attributes["connection"] = connection
            command.downgrade(cfg, "0021_inbox_without_history")
            assert not {"case_fact_month", "case_fact_target"} & set(engine.dialect.get_table_names(connection))
            connection.execute(text("UPDATE case_fact_state SET complete = :c"), {"c": complete})
            command.upgrade(cfg, "head")
        with maker.begin() as s:
            if complete:
                assert fact_summary.usable(s, config_targets(config)) and fact_summary.differences(s) == []
                assert s.execute(text("SELECT * FROM case_fact_month ORDER BY month, flags")).all() == wanted
            else:
                assert not fact_summary.kept(s)
                assert s.execute(text("SELECT count(*) FROM case_fact_month")).scalar() == 0
                case_facts.rebuild(s)  # as `opsgate init` does: the facts, then (no targets yet) no summary
                assert provider_measures.keep_summary(s, config) == 3
                assert s.execute(text("SELECT * FROM case_fact_month ORDER BY month, flags")).all() == wanted


def test_case_fact_month_migrates_down_and_up(tmp_path):
    engine = db.make_engine(f"sqlite:///{tmp_path}/summary.db")
    db.upgrade(engine)
    _case_fact_month_round_trip(engine)
    engine.dispose()


def test_case_fact_month_migrates_down_and_up_on_postgresql(pg_clean):
    _case_fact_month_round_trip(pg_clean)
