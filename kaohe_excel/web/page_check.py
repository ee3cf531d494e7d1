"""校验: the latest check of the inbox as it is now, filtered by unit and severity, and its issue workbooks."""

from __future__ import annotations

import tempfile
from pathlib import Path

from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from kaohe_excel.outputs import report
from kaohe_excel.base.errors import KaoheError
from kaohe_excel.web.routes import XLSX, AppState, _state, checked_form, download, render


async def check_get(request: Request) -> HTMLResponse:
    state = _state(request)
    scheme = state.scheme()
    state.ensure_check()
    check = state.fresh_check()
    unit = request.query_params.get("unit", "")
    severity = request.query_params.get("severity", "")
    issues = shown = None
    units: list[tuple[str, str]] = []
    counts = {"错误": 0, "警告": 0}
    if check is not None and check.outcome is not None:
        issues = check.outcome.validated.issues_table
        counts = {"错误": check.outcome.validated.error_count, "警告": check.outcome.validated.warning_count}
        names = dict(zip(scheme.units["unit_code"].astype(str), scheme.units["unit_name"].astype(str)))
        present = [u for u in dict.fromkeys(issues["unit"].astype(str)) if u] if len(issues) else []
        units = [(u, names.get(u, u)) for u in sorted(present)]
        shown = issues
        if len(shown) and unit:
            shown = shown[shown["unit"].astype(str) == unit]
        if len(shown) and severity in ("错误", "警告"):
            shown = shown[shown["severity"] == severity]
    return render(request, "check.html", active="check", check=check, issues=issues, shown=shown, counts=counts,
                  units=units, unit=unit, severity=severity)


async def check_post(request: Request) -> Response:
    state = _state(request)
    await checked_form(request)
    running = state.jobs.running
    if running is None or running.kind != "check":  # a check already under way is the one asked for
        state.start_check()
    return RedirectResponse("/check", status_code=303)


def _issue_workbook(state: AppState, unit: str | None) -> tuple[bytes, str]:
    check = state.fresh_check()
    if check is None or check.outcome is None:
        raise KaoheError("收件箱有变动，尚未重新校验。请到「校验」页等校验完成后再下载")
    scheme = state.scheme()
    issues = check.outcome.validated.issues_table
    if unit is not None:
        if unit not in set(scheme.units["unit_code"].astype(str)):
            raise HTTPException(404, f"方案中没有单位代码 {unit}")
        issues = issues[issues["unit"].astype(str) == unit] if len(issues) else issues
    with tempfile.TemporaryDirectory(dir=state.work.state) as tmp:
        path = report.write_issue_report(Path(tmp) / "issues.xlsx", scheme.meta, issues)
        data = path.read_bytes()
    name = f"校验问题_{scheme.meta.period}" + (f"_{unit}" if unit else "") + ".xlsx"
    return data, name


async def check_download(request: Request) -> Response:
    unit = request.path_params.get("unit")
    data, name = await run_in_threadpool(_issue_workbook, _state(request), unit)
    return download(data, name, XLSX)
