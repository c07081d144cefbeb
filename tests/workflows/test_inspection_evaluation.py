"""The evaluation reads inspections and work orders from their cases (issue 18, part 4): a month
in which inspections were planned and only some done scores category 2 from the cases alone."""

import datetime as dt

from sqlalchemy import select

from engine.evaluation import scorecards
from engine.evaluation.config import evaluation_config
from engine.evaluation.period import parse_period
from engine.evaluation.provider_measures import cases_behind
from engine.evaluation.report_data import scorecard_dict
from engine.people import providers
from engine.timing import clock
from models import Case

UTC = dt.timezone.utc
ITEMS = ("temperature_humidity", "ups", "fire_equipment", "disk_space", "logs", "antivirus")
CHECKLIST = {**dict.fromkeys(ITEMS, "ok"), "finding_impact": "medium", "inspection_report": "checked"}


def at(day, hour=9):
    return clock.frozen(dt.datetime(2027, 3, day, hour, tzinfo=UTC))


def test_planned_inspections_partly_done_score_category_2_from_the_cases(desk):
    providers.add_provider(desk.session, "RoomCare", systems=["machine room"], actor=desk["sam"])
    cases = []
    for day in (1, 8, 15):
        with at(day):
            cases.append(desk.start("inspection", {"inspection_target": "machine_room", "site": "machine room",
                                                   "inspection_plan": "monthly", "provider": "RoomCare"}, by="eve"))
    with at(2):
        desk.act(cases[0], "inspect", CHECKLIST, by="eve")
    with at(16):  # done, with a finding, but without its report
        desk.act(cases[2], "inspect", {**{k: v for k, v in CHECKLIST.items() if k != "inspection_report"},
                                       "ups": "finding", "ups_note": "battery low"}, by="eve")
    # the one of the 8th is never done in March

    card = scorecards.monthly_scorecards(desk.session, "2027-03", provider="RoomCare")[0]
    done, records = card.kpi("inspections_done"), card.kpi("inspection_records")
    assert (done.numerator, done.denominator, done.origin) == (2, 3, "computed")
    assert done.score == 0  # 2/3 is below the floor of 0.7
    assert (records.numerator, records.denominator, records.origin) == (1, 2, "computed")
    assert card.kpi("found_by_inspection").value == 1.0  # the one incident of March came from an inspection
    assert card.category("inspection").status == "fail"
    assert card.inputs == {}  # nothing typed

    config, march = evaluation_config(desk.session), parse_period("2027-03")
    def keys(measure, met=None):
        query = cases_behind(desk.session, config, march, measure, provider="RoomCare", met=met)
        return [c.key for c in desk.session.scalars(query)]
    assert keys("inspections_done") == [c.key for c in cases]
    assert keys("inspections_done", met=False) == [cases[1].key]
    assert keys("inspection_records", met=False) == [cases[2].key]
    # the API and the JSON export say which figures were computed and which typed
    kpis = {k["key"]: k for c in scorecard_dict(card)["categories"] for k in c["kpis"]}
    assert kpis["inspections_done"]["origin"] == "computed" and kpis["person_days"]["origin"] == "typed"


def test_the_supervisors_typed_figures_override_and_say_so(desk):
    providers.add_provider(desk.session, "RoomCare", systems=["machine room"], actor=desk["sam"])
    with at(1):
        desk.start("inspection", {"provider": "RoomCare"}, by="eve")
    scorecards.record_inputs(desk.session, "RoomCare", "2027-03",
                             {"inspections_planned": 4, "inspections_done": 4}, actor="suzy",
                             comment="two more done on paper")
    card = scorecards.monthly_scorecards(desk.session, "2027-03", provider="RoomCare")[0]
    done = card.kpi("inspections_done")
    assert done.origin == "typed" and done.value == 1.0 and done.source["entered_by"] == "suzy"
    assert done.source["computed"] == {"value": 0.0, "numerator": 0, "denominator": 1}
    assert card.kpi("inspection_records").origin == "computed"


def test_work_orders_count_service_requests_not_changes(desk):
    with at(3):
        order = desk.start("service_request", {"category": "printer", "description": "jam", "location": "A-301",
                                               "requested_for": "rita"}, by="sam")
        desk.act(order, "dispatch_order", {"dispatch_decision": "dispatch", "dispatch_to": "provider",
                                           "provider": "Acme IT"}, by="sam")
    with at(3, 13):
        desk.act(order, "do_work", {"work_record": "fuser replaced", "work_hours": 2}, by="eve")
    with at(4):
        desk.act(order, "confirm", {"confirmation": "confirmed", "rating": 4}, by="rita")
    with at(5):
        declined = desk.start("service_request", {"category": "other", "description": "x", "location": "B",
                                                  "requested_for": "rita"}, by="sam")
        desk.act(declined, "dispatch_order", {"dispatch_decision": "decline", "provider": "Acme IT",
                                              "dispatch_note": "not ours"}, by="sam")
    providers.add_provider(desk.session, "Acme IT", systems=[], actor=desk["sam"])
    card = scorecards.monthly_scorecards(desk.session, "2027-03", provider="Acme IT")[0]
    completed, on_time = card.kpi("work_completed"), card.kpi("work_on_time")
    assert (completed.numerator, completed.denominator) == (1, 1)  # the declined one was never assigned
    # opened 09:00, worked until 13:00, confirmed the next morning: the wait for the requester is paused
    assert (on_time.numerator, on_time.denominator) == (1, 1)
    assert card.kpi("rating").value == 4
    kinds = {c.process_key for c in desk.session.scalars(select(Case))}
    assert kinds == {"service_request"}
