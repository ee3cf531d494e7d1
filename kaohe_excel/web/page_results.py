"""结果: an archived period's ranking, one unit's scores and gap, its files (only what the manifest lists),
seal, verify and mail."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path
from urllib.parse import quote

import pandas as pd
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from kaohe_excel.storage import archive
from kaohe_excel.analysis import gap
from kaohe_excel.jobs import pipeline
from kaohe_excel.outputs import report
from kaohe_excel.storage.archive_lock import human_time
from kaohe_excel.outputs.period_status import publication_pending
from kaohe_excel.web import views
from kaohe_excel.web.routes import XLSX, _state, checked_form, download, render


DELIVERABLE_SUFFIXES = {".xlsx", ".docx", ".html", ".csv"}
FORCE_SEAL_LABEL = "公示期未满仍要封存"  # the page's --force of `kaohe seal`


async def results_index(request: Request) -> Response:
    state = _state(request)
    periods = state.periods()
    if periods:
        scheme, _ = state.scheme_or_error()
        names = [p.name for p in periods]
        chosen = scheme.meta.period if scheme is not None and scheme.meta.period in names else names[-1]
        return RedirectResponse(f"/results/{quote(chosen)}", status_code=303)
    return render(request, "results_none.html", active="results")


def _downloads(data: dict) -> dict:
    files = data["files"]
    top = [f for f in files if "/" not in f and Path(f).suffix in DELIVERABLE_SUFFIXES and f != archive.SCHEME_COPY]
    wanted = ["汇总表.xlsx", "通报.docx", "公示名单.docx", "结果看板.html"]
    main = [f for f in wanted if f in top] + [f for f in top if f not in wanted and not f.endswith(".csv")]
    feedback = [f for f in files if f.startswith(archive.FEEDBACK_DIR + "/")]
    return {"main": main, "csv": [f for f in top if f.endswith(".csv")], "feedback": feedback}


async def results_period(request: Request, message: str = "", verify_lines: list[str] | None = None,
                         status: int = 200) -> HTMLResponse:
    state = _state(request)
    period = request.path_params["period"]
    data = await run_in_threadpool(state.period_data, period)
    grades = [str(g) for g in data["scheme"].grades["grade"]]
    seal = archive.read_seal(data["folder"])
    pending = publication_pending(data["folder"])
    return render(request, "results.html", status=status, active="results", period=period, data=data,
                  periods=[p.name for p in state.periods()], groups=views.ranking_groups(data["totals"], grades),
                  downloads=_downloads(data), message=message, verify_lines=verify_lines or [],
                  seal={"at": human_time(seal.get("sealed_at")), "by": seal.get("by", "")} if seal else None,
                  pmeta=data["scheme"].meta, mail_job=state.jobs.last.get("mail"),
                  publication_pending=pending, force_seal_label=FORCE_SEAL_LABEL)


def _unit_view(data: dict, unit: str) -> dict:
    totals = data["totals"]
    row = totals[totals["unit_code"].astype(str) == unit]
    if not len(row):
        raise HTTPException(404, f"{data['period']} 期没有单位代码 {unit}")
    total = row.iloc[0].to_dict()
    scores = data["scores"]
    mine = scores[scores["unit_code"].astype(str) == unit].sort_values("order", kind="stable")
    status_zh = report.STATUS_ZH
    lines = []
    for r in mine.to_dict("records"):
        value = views.text(r.get("text_value")) or views.num(r.get("value"), 4).rstrip("0").rstrip(".")
        available = r.get("points_available")
        score = r.get("score")
        # Over-completion (上限系数 > 1) can score above the points: nothing was lost there.
        lost = max(0.0, float(available) - float(score)) if not views.missing(available) and not views.missing(score) else None
        lines.append({"code": views.text(r.get("indicator_code")), "name": views.text(r.get("name")),
                      "category": views.text(r.get("category")), "measure_unit": views.text(r.get("measure_unit")),
                      "value": value, "points": views.num(r.get("points")), "score": views.num(score),
                      "lost": views.num(lost) if lost is not None else "", "lost_value": lost or 0.0,
                      "status": status_zh.get(str(r.get("status")), str(r.get("status"))),
                      "explanation": views.text(r.get("explanation"))})
    lost_most = sorted([l for l in lines if l["lost_value"] > 0.005], key=lambda l: -l["lost_value"])[:5]
    gap_frame = gap.gap_table(data["scores"], data["scheme"].tier_tables, data["scheme"])
    gap_rows = gap.gap_sheet_rows(gap_frame, unit)
    gap_rows = gap_rows.drop(columns=[c for c in ("单位代码", "单位名称") if c in gap_rows.columns])
    gap_headers, gap_cells = views.table_rows(gap_rows)
    feedback = archive.feedback_path(total.get("unit_code"), total.get("unit_name"))  # the name report wrote
    peers = totals[totals["group"].astype(str) == str(total.get("group"))]
    return {"total": {k: total.get(k) for k in ("unit_code", "unit_name", "group", "indicator_total", "bonus",
                                                 "deduction", "total", "rank", "grade", "grade_note", "flags",
                                                 "group_size", "veto_items")},
            "best": views.num(pd.to_numeric(peers["total"], errors="coerce").max()),
            "mean": views.num(pd.to_numeric(peers["total"], errors="coerce").mean()),
            "lines": lines, "lost_most": lost_most, "gap_headers": gap_headers, "gap_cells": gap_cells,
            "feedback": feedback if feedback in data["files"] else None}


async def results_unit(request: Request) -> HTMLResponse:
    state = _state(request)
    period, unit = request.path_params["period"], request.path_params["unit"]
    data = await run_in_threadpool(state.period_data, period)
    view = await run_in_threadpool(_unit_view, data, unit)
    return render(request, "unit.html", active="results", period=period, view=view, num=views.num, text=views.text)


async def period_file(request: Request) -> Response:
    state = _state(request)
    period, name = request.path_params["period"], request.path_params["name"]
    data = await run_in_threadpool(state.period_data, period)
    if name not in data["files"]:  # only what the manifest lists, matched exactly
        raise HTTPException(404, f"{period} 期的归档中没有文件「{name}」")
    media = {".xlsx": XLSX, ".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
             ".html": "text/html; charset=utf-8", ".csv": "text/csv; charset=utf-8"}.get(Path(name).suffix,
                                                                                       "application/octet-stream")
    return download(data["folder"] / name, Path(name).name, media)


def _zip_all(data: dict) -> bytes:
    listing = _downloads(data)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as bundle:
        for name in listing["main"] + listing["csv"] + listing["feedback"]:
            bundle.write(data["folder"] / name, name)
    return buffer.getvalue()


async def period_zip(request: Request) -> Response:
    state = _state(request)
    period = request.path_params["period"]
    data = await run_in_threadpool(state.period_data, period)
    return download(await run_in_threadpool(_zip_all, data), f"{period}_考核结果.zip", "application/zip")


async def seal_post(request: Request) -> HTMLResponse:
    state = _state(request)
    form = await checked_form(request)
    period = request.path_params["period"]
    state.period_folder(period)
    by = form.get("by", "").strip() or None
    force = bool(form.get("force"))

    def seal(progress):
        from kaohe_excel.outputs.period_status import refuse_during_publication  # the rule `kaohe seal` applies

        if not force:
            refuse_during_publication(archive.period_folder(state.work.outputs, period), override=f"确需提前封存请勾选「{FORCE_SEAL_LABEL}」")
        return archive.seal_period(state.work.outputs, period, by=by)

    job = await run_in_threadpool(state.jobs.start, "seal", f"封存 {period} 期", seal, None, True)
    if job.state != "done":
        return await results_period(request, message=job.message, status=409)
    return await results_period(request, message=f"{period} 期已封存。此后计分不会覆盖本期结果。")


async def verify_post(request: Request) -> HTMLResponse:
    state = _state(request)
    await checked_form(request)
    period = request.path_params["period"]
    state.period_folder(period)
    job = await run_in_threadpool(state.jobs.start, "verify", f"核验 {period} 期",
                                  lambda progress: pipeline.verify_period(state.work.outputs, period), None, True)
    if job.state != "done":
        return await results_period(request, message=job.message, status=409)
    return await results_period(request, verify_lines=job.result.lines(),
                                message="核验通过。" if job.result.ok else "核验发现差异，见下方列表。")


async def mail_post(request: Request) -> Response:
    """邮件: the same call as `kaohe mail` (preview as .eml files, or send what has not gone out yet)."""
    from kaohe_excel.outputs import mail

    state = _state(request)
    form = await checked_form(request)
    period = request.path_params["period"]
    state.period_folder(period)
    preview = form.get("action") != "send"
    work = state.work
    templates = work.root / "templates"

    def job(progress):
        return mail.send_period(work.outputs, period, config_path=work.config, dry_run=preview,
                                template_dir=templates if templates.is_dir() else None, progress=progress)

    state.jobs.start("mail", "生成邮件预览" if preview else "发送邮件", job)
    return RedirectResponse(f"/results/{quote(period)}#mail", status_code=303)
