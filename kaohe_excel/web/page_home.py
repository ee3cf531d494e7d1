"""首页: the steps of a period, from the templates to the seal, and the archived periods."""

from __future__ import annotations

from datetime import date
from urllib.parse import quote

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse

from kaohe_excel.storage import archive
from kaohe_excel.storage.archive_lock import human_time, read_json
from kaohe_excel.scheme.workbook import Scheme
from kaohe_excel.web import uploads
from kaohe_excel.web.routes import AppState, _state, render


def _submission_summary(state: AppState, scheme: Scheme) -> dict:
    files = uploads.inbox_index(state.work)
    codes = set(scheme.units["unit_code"].astype(str))
    submitted = {f.unit_code for f in files if f.unit_code in codes and not f.problem}
    return {"files": files, "submitted": submitted, "unit_count": len(codes)}


async def home(request: Request) -> HTMLResponse:
    state = _state(request)
    scheme, scheme_error = state.scheme_or_error()
    periods = []
    for folder in state.periods():
        manifest = read_json(folder / archive.MANIFEST) or {}
        seal = archive.read_seal(folder)
        from kaohe_excel.outputs.period_status import period_state  # w-year: 已计分 / 公示中（至…）/ 公示期满

        periods.append({"name": folder.name, "sealed": archive.is_sealed(folder), "state": period_state(folder, date.today()),
                        "created": human_time(manifest.get("created_at")),
                        "sealed_at": human_time(seal.get("sealed_at")) if seal else "", "by": seal.get("by", "")})
    steps = []
    if scheme is not None:
        summary = await run_in_threadpool(_submission_summary, state, scheme)
        check = state.fresh_check()
        current = next((p for p in periods if p["name"] == scheme.meta.period), None)
        errors = warnings = None
        if check is not None and check.outcome is not None:
            errors, warnings = check.outcome.validated.error_count, check.outcome.validated.warning_count
        n_sub, n_all = len(summary["submitted"]), summary["unit_count"]
        steps = [
            {"title": "下发模板", "text": "在「收表」页下载各单位的填报模板和评定表，发给各单位填写。", "href": "/inbox",
             "done": bool(summary["files"])},
            {"title": "收表", "text": f"已收到 {n_sub} / {n_all} 个单位的报送。把各单位交回的表格拖到「收表」页。",
             "href": "/inbox", "done": n_sub == n_all and n_all > 0},
            {"title": "校验", "text": ("尚未校验当前收件箱。" if errors is None else f"错误 {errors} 个，警告 {warnings} 个。"),
             "href": "/check", "done": errors == 0},
            {"title": "计分", "text": ("本期已计分，可重新计分。" if current else "校验无误后在「计分」页点「开始计分」。"),
             "href": "/score", "done": current is not None},
            {"title": "下载结果", "text": "在「结果」页查看排名，下载汇总表、通报和各单位反馈表。",
             "href": f"/results/{quote(scheme.meta.period)}" if current else "/results", "done": current is not None},
            {"title": "封存", "text": ("本期已封存。" if current and current["sealed"] else "结果定稿后在「结果」页封存本期。"),
             "href": f"/results/{quote(scheme.meta.period)}" if current else "/results",
             "done": bool(current and current["sealed"])},
        ]
        for step in steps:
            if not step["done"]:
                step["next"] = True
                break
    return render(request, "home.html", active="home", scheme_error=scheme_error, periods=periods, steps=steps)
