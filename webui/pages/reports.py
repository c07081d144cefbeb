"""Reports for supervisors: monthly scorecards with trends, KPI drill-down to cases, the
annual assessment, exports, the supervisor's monthly inputs, and publishing a month.

Readers: supervisor, auditor, admin. Entering inputs and publishing: supervisor (the engine
checks again). Texts are in English and Chinese (`t(en, zh)` picks by the user's language).
"""
from __future__ import annotations

from typing import Any

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import FloatField, IntegerField, TextAreaField
from wtforms.validators import NumberRange, Optional

from engine.errors import InvalidData
from engine.evaluation import scorecards
from engine.evaluation.config import EvaluationConfig, InputDef, evaluation_config
from engine.evaluation.metrics import Filters, hot_spots
from engine.evaluation.period import month_period, parse_period
from engine.evaluation.provider_measures import cases_behind_page
from engine.evaluation.scoring import NO_DATA
from engine.timing import clock
from webui import exports
from webui.auth import role_required
from webui.db import get_session
from webui.hardening import page_arg
from webui.i18n import localized

bp = Blueprint("reports", __name__, url_prefix="/reports")

READERS = ("supervisor", "auditor", "admin")
WRITERS = ("supervisor",)
PAGE_SIZE = 50


def t(en: str, zh: str) -> str:
    """English or Chinese by the user's language."""
    return localized(en, zh)


def _layout() -> str:
    # The site layout once the web UI provides it; a plain one of our own until then.
    return "base.html" if "base.html" in current_app.jinja_env.list_templates() \
        else "reports/_layout.html"


@bp.context_processor
def _helpers() -> dict[str, Any]:
    return {"t": t, "no_data": NO_DATA, "layout": _layout()}


def _last_month() -> str:
    now = clock.now()
    year, month = (now.year, now.month - 1) if now.month > 1 else (now.year - 1, 12)
    return f"{year:04d}-{month:02d}"


def _can_write() -> bool:
    return bool(set(getattr(current_user, "group_names", set())) & set(WRITERS))


def _trend(session: Any, period: str, provider: str | None,
           config: EvaluationConfig) -> dict[str, Any]:
    """Chart data: per category, one line per provider over the year up to the month."""
    year, month = int(period[:4]), int(period[5:7])
    months = [month_period(year, m) for m in range(1, month + 1)]
    series: dict[str, dict[str, list[float | None]]] = {}
    # One aggregate over the year's cases so far, each month's figures as its scorecards give them.
    by_month = scorecards.trend_scorecards(session, months, provider=provider, config=config)
    for m in months:
        for card in by_month[m.label]:
            for c in card.categories:
                series.setdefault(c.key, {}).setdefault(card.provider, []).append(
                    None if c.score is None else round(c.score, 2))
            series.setdefault("total", {}).setdefault(card.provider, []).append(
                None if card.total is None else round(card.total, 2))
    charts = [{"key": c.key, "title": t(c.label_en, c.label_zh), "pass_mark": c.pass_mark,
               "series": series.get(c.key, {})} for c in config.categories]
    charts.insert(0, {"key": "total", "title": t("Month total", "月度总分"),
                      "pass_mark": config.total_pass_mark, "series": series.get("total", {})})
    return {"labels": [m.label for m in months], "charts": charts}


@bp.get("/")
@role_required(*READERS)
def index():
    """Monthly scorecards of every provider, trends per category, service-desk hot spots."""
    session = get_session()
    config = evaluation_config(session)
    # Open on the latest month with cases (a first look shows figures, not an empty month).
    period = parse_period(request.args.get("period") or scorecards.latest_month(session) or _last_month())
    if period.is_year:
        return redirect(url_for("reports.annual", year=period.label,
                                provider=request.args.get("provider") or None))
    provider = request.args.get("provider") or None
    cards = scorecards.monthly_scorecards(session, period, provider=provider, config=config)
    providers = [p.name for p in scorecards.list_providers(session)]
    spots = hot_spots(session, config, period, Filters(provider=provider), use_facts=True)
    charts = [{"key": "total", "title": t("Month total", "月度总分")}] + \
        [{"key": c.key, "title": t(c.label_en, c.label_zh)} for c in config.categories]
    return render_template("reports/index.html", period=period.label, provider=provider,
                           providers=providers, cards=cards, config=config, spots=spots, charts=charts,
                           can_write=_can_write())


@bp.get("/trend.json")
@role_required(*READERS)
def trend():
    """The year's trend up to the month, per category and provider: the reports page draws it
    after it has shown (scoring eleven months takes longer than the page itself)."""
    session = get_session()
    period = parse_period(request.args.get("period") or _last_month())
    if period.is_year:
        raise InvalidData("The trend is for a month (YYYY-MM).", {"period": ["must be a month like 2026-03"]})
    provider = request.args.get("provider") or None
    return jsonify(_trend(session, period.label, provider, evaluation_config(session)))


@bp.get("/scorecard/<provider>/<period>")
@role_required(*READERS)
def scorecard(provider: str, period: str):
    """One provider's month: every KPI with its figures and the cases behind it."""
    session = get_session()
    card = scorecards.monthly_scorecards(session, parse_period(period), provider=provider)[0]
    return render_template("reports/scorecard.html", card=card, can_write=_can_write())


@bp.get("/cases")
@role_required(*READERS)
def cases():
    """The cases a KPI was computed from (all, those that met it, those that missed it)."""
    session = get_session()
    config = evaluation_config(session)
    period = parse_period(request.args.get("period", ""))
    measure = request.args.get("measure", "")
    provider = request.args.get("provider") or None
    met = {"met": True, "missed": False}.get(request.args.get("show", ""))
    page = page_arg()
    rows, more = cases_behind_page(session, config, period, measure, provider=provider, met=met, page=page,
                                   per_page=PAGE_SIZE)
    label = next((t(k.label_en, k.label_zh) for c in config.categories for k in c.kpis
                  if measure in (k.key, k.metric)), measure)
    return render_template("reports/cases.html", rows=rows, period=period.label,
                           measure=measure, measure_label=label, provider=provider, show=request.args.get("show", ""),
                           page=page, more=more)


@bp.get("/annual/<year>")
@role_required(*READERS)
def annual(year: str):
    """The annual assessment: the four rules, each failed item with its months."""
    session = get_session()
    provider = request.args.get("provider") or None
    report = scorecards.build_report(session, year, provider=provider)
    if not report.is_year:
        abort(404)
    return render_template("reports/annual.html", report=report, year=report.period,
                           provider=provider)


@bp.get("/export")
@role_required(*READERS)
def export():
    """Download the report as JSON, CSV, XLSX or printable HTML."""
    session = get_session()
    fmt = request.args.get("format", "html")
    if fmt not in exports.FORMATS:
        abort(404)
    period = request.args.get("period") or _last_month()
    report = scorecards.build_report(session, period, provider=request.args.get("provider") or None)
    body = exports.render(report, fmt)
    mimetype = {"json": "application/json", "csv": "text/csv; charset=utf-8",
                "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                "html": "text/html; charset=utf-8"}[fmt]
    headers = {} if fmt == "html" else {
        "Content-Disposition": f'attachment; filename="evaluation-{report.period}.{fmt}"'}
    return Response(body, mimetype=mimetype, headers=headers)


def input_form(config: EvaluationConfig, data: dict[str, Any] | None = None) -> FlaskForm:
    """A WTForms form with one optional number field per configured input."""

    class InputsForm(FlaskForm):
        pass

    def tidy(limit: float | None) -> float | int | None:
        return int(limit) if limit is not None and limit == int(limit) else limit

    def field(spec: InputDef) -> Any:
        limits = NumberRange(min=tidy(spec.min), max=tidy(spec.max))
        kind = IntegerField if spec.type == "integer" else FloatField
        return kind(t(spec.label_en, spec.label_zh), validators=[Optional(), limits])

    for spec in config.inputs:
        setattr(InputsForm, spec.key, field(spec))
    InputsForm.comment = TextAreaField(t("Comment", "备注"), validators=[Optional()])
    return InputsForm(data=data)


@bp.route("/inputs", methods=["GET", "POST"])
@role_required(*WRITERS)
def inputs():
    """The supervisor's monthly inputs for one provider (?provider=&period=; each save is audited)."""
    session = get_session()
    config = evaluation_config(session)
    provider = request.args.get("provider", "")
    if not provider:
        raise InvalidData(t("provider: required", "服务商：必填"),  # noqa: RUF001
                          {"provider": [t("choose a provider", "请选择服务商")]})
    month = parse_period(request.args.get("period", ""))
    target = scorecards.list_providers(session, provider)[0]
    row = scorecards.get_inputs(session, target, month.label)
    form = input_form(config, dict(row.values, comment=row.comment) if row else None)
    if form.validate_on_submit():
        values = {spec.key: form[spec.key].data for spec in config.inputs}
        scorecards.record_inputs(session, provider, month.label, values, actor=current_user,
                                 comment=form.comment.data or "", config=config)
        session.commit()
        flash(t(f"Inputs for {provider} {month.label} saved.",
                f"已保存{provider} {month.label}的考核输入。"))
        return redirect(url_for("reports.scorecard", provider=provider, period=month.label))
    status = 422 if request.method == "POST" else 200
    return render_template("reports/inputs.html", form=form, provider=provider,
                           period=month.label, row=row, config=config), status


@bp.post("/publish")
@role_required(*WRITERS)
def publish():
    """Publish a month's scorecards; open rectification cases for providers below a pass mark."""
    session = get_session()
    period = parse_period(request.form.get("period", ""))
    published = scorecards.publish_month(session, period.label, actor=current_user)
    session.commit()
    opened = [case.key for _, case in published if case is not None]
    flash(t(f"{period.label} published for {len(published)} provider(s); rectification cases "
            f"opened: {', '.join(opened) or 'none'}.",
            f"{period.label}已发布({len(published)}家服务商);新开整改案件:"
            f"{'、'.join(opened) or '无'}。"))
    return redirect(url_for("reports.index", period=period.label))

