"""模拟: change some values of an archived period in memory and show what moves (the same simulate as
`kaohe simulate`)."""

from __future__ import annotations


import pandas as pd
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse

from kaohe_excel.analysis import simulate
from kaohe_excel.base.errors import KaoheError
from kaohe_excel.web import views
from kaohe_excel.web.routes import AppState, _state, checked_form, render


def _sim_context(state: AppState, period: str, unit: str) -> dict:
    data = state.period_data(period)
    units = data["totals"][["unit_code", "unit_name", "group"]].astype(str).to_dict("records")
    lines = []
    if unit:
        if unit not in {u["unit_code"] for u in units}:
            raise HTTPException(404, f"{period} 期没有单位代码 {unit}")
        scores = data["scores"]
        mine = scores[scores["unit_code"].astype(str) == unit].sort_values("order", kind="stable")
        for r in mine.to_dict("records"):
            if str(r.get("status")) in ("exempt", "exempt_mean"):
                continue
            value = views.text(r.get("text_value")) or (
                "" if views.missing(r.get("value")) else f"{float(r['value']):.10g}")
            lines.append({"code": views.text(r.get("indicator_code")), "name": views.text(r.get("name")),
                          "measure_unit": views.text(r.get("measure_unit")), "method": views.text(r.get("method")),
                          "value": value, "score": views.num(r.get("score")), "points": views.num(r.get("points"))})
    return {"units": units, "lines": lines}


async def simulate_get(request: Request, **extra) -> HTMLResponse:
    state = _state(request)
    periods = [p.name for p in state.periods()]
    period = request.query_params.get("period") or extra.pop("period", None) or (periods[-1] if periods else "")
    unit = request.query_params.get("unit") or extra.pop("unit", "")
    context = {"units": [], "lines": []}
    if period:
        context = await run_in_threadpool(_sim_context, state, period, unit)
    return render(request, "simulate.html", active="simulate", periods=periods, period=period, unit=unit,
                  sim=None, message="", **{**context, **extra})


def _simulate(state: AppState, period: str, form: dict) -> tuple[pd.DataFrame, pd.DataFrame, list[str]]:
    context = _sim_context(state, period, form.get("unit", ""))
    items = []
    for line in context["lines"]:
        new = form.get(f"v_{line['code']}", "").strip()
        if new and new != line["value"]:
            items.append(f"{form.get('unit')}:{line['code']}={new}")
    items += [s.strip() for s in form.get("extra", "").splitlines() if s.strip()]
    if not items:
        raise KaoheError("没有改动任何值：请在表中改写实际完成值，或在「其他改动」中按 单位代码:指标代码=值 逐行填写")
    changes = simulate.parse_changes(items)
    base = state.simulation_base(period)
    result = simulate.simulate(base, changes)
    totals = result.totals
    groups = set(totals.loc[totals["unit_code"].isin({u for u, _ in changes}), "group"])
    totals = totals[totals["group"].isin(groups)].sort_values(["group", "rank_after", "unit_code"])
    table = pd.DataFrame({
        "考核类别": totals["group"], "单位代码": totals["unit_code"], "单位名称": totals["unit_name"],
        "原总分": totals["total_before"], "模拟总分": totals["total_after"], "变化": totals["total_delta"],
        "原排名": totals["rank_before"].astype(str), "模拟排名": totals["rank_after"].astype(str),
        "原等次": totals["grade_before"], "模拟等次": totals["grade_after"],
    })
    scores = result.scores.rename(columns=simulate.SCORE_HEADERS)
    return table, scores, items


async def simulate_post(request: Request) -> HTMLResponse:
    state = _state(request)
    form = await checked_form(request)
    period = form.get("period", "")
    unit = form.get("unit", "")
    context = await run_in_threadpool(_sim_context, state, period, unit)
    try:
        table, scores, items = await run_in_threadpool(_simulate, state, period, form)
    except KaoheError as exc:
        return render(request, "simulate.html", status=400, active="simulate", periods=[p.name for p in state.periods()],
                      period=period, unit=unit, sim=None, message=str(exc), form=form, **context)
    sim = {"items": items, "totals": views.table_rows(table), "scores": views.table_rows(scores)}
    return render(request, "simulate.html", active="simulate", periods=[p.name for p in state.periods()], period=period,
                  unit=unit, sim=sim, message="", form=form, **context)
