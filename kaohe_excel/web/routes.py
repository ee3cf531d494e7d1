"""The pages. Each one calls the same library functions as the CLI (pipeline, archive, gap,
template, report): no rule is implemented twice. A path from a request is never joined to a
folder: periods, files and units are looked up in what the archive and the scheme list."""

from __future__ import annotations

import io
import json
import tempfile
import threading
import zipfile
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pandas as pd
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, RedirectResponse, Response

from .. import archive, gap, period_outputs, pipeline, publication, read, report, simulate
from ..archive_lock import human_time, read_json
from ..errors import KaoheError, PeriodNotFound
from ..issues import Severity
from ..scheme import Scheme, load_scheme
from . import uploads, views
from .folder import WorkFolder
from .jobs import Jobs
from .security import CSRF_FIELD, CSRF_HEADER, CsrfFailed, Security, login

NAV = [("home", "/", "首页"), ("inbox", "/inbox", "收表"), ("check", "/check", "校验"), ("score", "/score", "计分"),
       ("results", "/results", "结果"), ("history", "/history", "历史"), ("simulate", "/simulate", "模拟")]
DELIVERABLE_SUFFIXES = {".xlsx", ".docx", ".html", ".csv"}
FORCE_SEAL_LABEL = "公示期未满仍要封存"  # the page's --force of `kaohe seal`
SIM_HEADERS = {"unit_code": "单位代码", "unit_name": "单位名称", "indicator_code": "指标代码", "name": "指标名称",
               "changed": "是否设定", "value_before": "原值", "value_after": "模拟值", "score_before": "原得分",
               "score_after": "模拟得分", "score_delta": "变化"}


@dataclass
class CheckState:
    fingerprint: tuple
    outcome: Any = None  # pipeline.CheckOutcome, or Results.validated wrapped by a run
    error: str = ""


class AppState:
    def __init__(self, work: WorkFolder, security: Security):
        self.work = work
        self.security = security
        self.jobs = Jobs()
        self.env = views.environment()
        self.check: CheckState | None = None
        self.read_limits = read.ReadLimits()  # the inbox reader's bounds, for uploads too
        self._lock = threading.Lock()
        self._scheme: tuple[tuple, Scheme] | None = None
        self._periods: dict[str, tuple[float, dict]] = {}
        self._sim: dict[str, tuple[float, Any]] = {}

    # --- the scheme in use
    def scheme(self) -> Scheme:
        stat = self.work.scheme.stat()
        key = (stat.st_size, stat.st_mtime_ns)
        with self._lock:
            if self._scheme is None or self._scheme[0] != key:
                self._scheme = (key, load_scheme(self.work.scheme))
            return self._scheme[1]

    def scheme_or_error(self) -> tuple[Scheme | None, str]:
        try:
            return self.scheme(), ""
        except KaoheError as exc:
            return None, str(exc)

    # --- the latest check of the inbox as it is now
    def fresh_check(self) -> CheckState | None:
        state = self.check
        if state is None or state.fingerprint != uploads.inbox_fingerprint(self.work):
            return None
        return state

    def ensure_check(self) -> None:
        """Start a check when the inbox changed since the last one (and nothing else runs)."""
        if self.fresh_check() is not None or self.jobs.running is not None:
            return
        self.start_check()

    def start_check(self):
        work = self.work
        fingerprint = uploads.inbox_fingerprint(work)

        def job(progress):
            return pipeline.check(work.inbox, work.scheme, None, out_root=work.outputs, progress=progress)

        def done(finished):
            if finished.state == "done":
                self.check = CheckState(fingerprint, finished.result)
            else:
                self.check = CheckState(fingerprint, None, finished.message)

        return self.jobs.start("check", "校验收件箱", job, on_done=done)

    # --- archived periods
    def periods(self) -> list[Path]:
        return archive.period_folders(self.work.outputs)

    def period_folder(self, period: str) -> Path:
        folder = archive.find_period(self.work.outputs, period)  # the archive's lookup: crash recovery first
        if folder is not None and (folder / archive.MANIFEST).is_file():
            return folder
        raise PeriodNotFound(f"没有 {period} 期的考核结果（已有：{'、'.join(p.name for p in self.periods()) or '无'}）")

    def period_data(self, period: str) -> dict:
        folder = self.period_folder(period)
        manifest_path = folder / archive.MANIFEST
        stamp = manifest_path.stat().st_mtime
        cached = self._periods.get(period)
        if cached and cached[0] == stamp:
            data = cached[1]
        else:
            manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
            scheme = load_scheme(folder / archive.SCHEME_COPY)
            totals = pd.read_parquet(folder / archive.RESULTS_PARQUET["totals"])
            scores = pd.read_parquet(folder / archive.RESULTS_PARQUET["scores"])
            data = {"period": period, "folder": folder, "manifest": manifest, "scheme": scheme, "totals": totals,
                    "scores": scores, "files": [e["path"] for e in manifest.get("files", []) if "path" in e]}
            self._periods[period] = (stamp, data)
        return {**data, "sealed": archive.is_sealed(folder)}

    def simulation_base(self, period: str):
        folder = self.period_folder(period)
        stamp = (folder / archive.MANIFEST).stat().st_mtime
        cached = self._sim.get(period)
        if cached and cached[0] == stamp:
            return cached[1]
        results = pipeline.load_period(self.work.outputs, period, workers=1)
        self._sim[period] = (stamp, results)
        return results


def _state(request: Request) -> AppState:
    return request.app.state.kaohe


def render(request: Request, name: str, status: int = 200, **context) -> HTMLResponse:
    state = _state(request)
    scheme, _ = state.scheme_or_error()
    values = {"request": request, "csrf": request.state.csrf, "nav": NAV, "scheme": scheme, "work": state.work,
              "job": state.jobs.running, "lan": not state.security.local_only, **context}
    page = state.env.get_template(name).render(**values)
    return HTMLResponse(page, status_code=status)


async def checked_form(request: Request) -> dict[str, str]:
    """The posted form, after its CSRF token was verified; file fields are refused here."""
    form = await request.form(max_files=0, max_fields=500)
    token = request.headers.get(CSRF_HEADER) or form.get(CSRF_FIELD)
    if not _state(request).security.token_ok(request.state.sid, token):
        raise CsrfFailed("页面已过期或来源不明（缺少有效的安全令牌），操作未执行。请刷新页面后重试")
    return {k: str(v) for k, v in form.items()}


def download(data: bytes | Path, filename: str, media_type: str = "application/octet-stream") -> Response:
    disposition = f"attachment; filename=\"download{Path(filename).suffix}\"; filename*=UTF-8''{quote(filename)}"
    if isinstance(data, Path):
        return FileResponse(data, media_type=media_type, headers={"Content-Disposition": disposition})
    return Response(data, media_type=media_type, headers={"Content-Disposition": disposition})


XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


# --------------------------------------------------------------------------- 首页


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
        from ..period_status import period_state  # w-year: 已计分 / 公示中（至…）/ 公示期满

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


# --------------------------------------------------------------------------- 收表


def _unit_rows(state: AppState, scheme: Scheme, check: CheckState | None) -> list[dict]:
    files = uploads.inbox_index(state.work)
    issues = None
    if check is not None and check.outcome is not None:
        issues = check.outcome.validated.issues_table
    rows = []
    for unit in scheme.units.to_dict("records"):
        code = str(unit["unit_code"])
        mine = [f for f in files if f.unit_code == code]
        errors = 0
        if issues is not None and len(issues):
            errors = int(((issues["unit"] == code) & (issues["severity"] == Severity.ERROR.value)).sum())
        if not mine:
            status = "未报送"
        elif errors or any(f.problem for f in mine) or len([f for f in mine if f.kind == mine[0].kind]) > 1:
            status = "有问题"
        else:
            status = "已报送"
        rows.append({"unit_code": code, "unit_name": str(unit["unit_name"]), "group": str(unit["group"]),
                     "files": [f.name for f in mine], "status": status, "errors": errors})
    return rows


async def inbox_page(request: Request, received: list | None = None, message: str = "", status: int = 200) -> HTMLResponse:
    state = _state(request)
    scheme = state.scheme()
    state.ensure_check()
    check = state.fresh_check()
    rows = await run_in_threadpool(_unit_rows, state, scheme, check)
    files = await run_in_threadpool(uploads.inbox_index, state.work)
    codes = set(scheme.units["unit_code"].astype(str))
    counts = {s: sum(1 for r in rows if r["status"] == s) for s in ("已报送", "未报送", "有问题")}
    # The last upload's outcome stays on the page: a finished check reloads it.
    session = state.security.sessions.get(request.state.sid, {})
    if received is not None:
        session["received"] = received
    received = session.get("received", [])
    return render(request, "inbox.html", status=status, active="inbox", rows=rows, files=files, codes=codes,
                  counts=counts, received=received, message=message, check=check)


async def inbox_get(request: Request) -> HTMLResponse:
    return await inbox_page(request)


async def inbox_upload(request: Request) -> HTMLResponse:
    state = _state(request)
    sec = state.security
    if state.jobs.running is not None and state.jobs.running.kind == "run":
        return await inbox_page(request, message="正在计分，计分结束前不能改动收件箱，请稍后再上传。", status=409)
    length = request.headers.get("content-length")
    if length and length.isdigit() and int(length) > uploads.MAX_REQUEST_BYTES:
        return await inbox_page(request, message=f"一次上传的总量超过 {uploads.MAX_REQUEST_BYTES // 1024 // 1024} MB，请分批上传。",
                                status=413)
    receiver = uploads.UploadReceiver(state.work, request.headers.get("content-type", ""),
                                      request.headers.get(CSRF_HEADER) or request.query_params.get("csrf"),
                                      lambda token: sec.token_ok(request.state.sid, token), state.read_limits)
    try:
        async for chunk in request.stream():
            await run_in_threadpool(receiver.feed, chunk)
        received = await run_in_threadpool(receiver.finish)
    except uploads.UploadRefused as exc:
        receiver.discard()
        return await inbox_page(request, message=str(exc), status=403 if "令牌" in str(exc) else 400)
    except BaseException:
        receiver.discard()
        raise
    return await inbox_page(request, received=received)


async def inbox_remove(request: Request) -> HTMLResponse:
    state = _state(request)
    form = await checked_form(request)
    if state.jobs.running is not None and state.jobs.running.kind == "run":
        return await inbox_page(request, message="正在计分，计分结束前不能改动收件箱。", status=409)
    moved = await run_in_threadpool(uploads.remove_from_inbox, state.work, form.get("name", ""))
    return await inbox_page(request, message=f"已将「{form.get('name', '')}」移出收件箱（保存在 .kaohe-web/已移出收件箱/{moved}，未删除）。")


# --------------------------------------------------------------------------- templates (下载模板)


def _template_bytes(state: AppState, what: str, unit: str | None = None) -> tuple[bytes, str, str]:
    from ..template import write_assessment_workbook, write_lead_workbooks, write_templates

    scheme = state.scheme()
    with tempfile.TemporaryDirectory(dir=state.work.state) as tmp:
        out = Path(tmp)
        if what == "unit":
            if unit not in set(scheme.units["unit_code"].astype(str)):
                raise HTTPException(404, f"方案中没有单位代码 {unit}")
            path = write_templates(scheme, out, units=[unit])[0]
            return path.read_bytes(), path.name, XLSX
        if what == "assessment":
            path = write_assessment_workbook(scheme, out)
            return path.read_bytes(), path.name, XLSX
        paths = write_lead_workbooks(scheme, out) if what == "leads" else (
            write_templates(scheme, out) + [write_assessment_workbook(scheme, out)])
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as bundle:
            for path in paths:
                bundle.write(path, path.name)
        name = "牵头单位核定表.zip" if what == "leads" else f"填报模板_{scheme.meta.period}.zip"
        return buffer.getvalue(), name, "application/zip"


async def template_unit(request: Request) -> Response:
    data, name, media = await run_in_threadpool(_template_bytes, _state(request), "unit", request.path_params["unit"])
    return download(data, name, media)


async def template_bundle(request: Request) -> Response:
    what = request.path_params["what"]
    if what not in ("assessment", "leads", "all"):
        raise HTTPException(404, "没有这种模板")
    data, name, media = await run_in_threadpool(_template_bytes, _state(request), what)
    return download(data, name, media)


# --------------------------------------------------------------------------- 校验


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


# --------------------------------------------------------------------------- 计分 and the job widget


async def score_get(request: Request, message: str = "", status: int = 200) -> HTMLResponse:
    state = _state(request)
    scheme = state.scheme()
    state.ensure_check()
    check = state.fresh_check()
    errors = None
    if check is not None and check.outcome is not None:
        errors = check.outcome.validated.error_count
    periods = [p.name for p in state.periods() if p.name != scheme.meta.period]
    current = archive.find_period(state.work.outputs, scheme.meta.period)
    sealed = current is not None and archive.is_sealed(current)
    return render(request, "score.html", status=status, active="score", check=check, errors=errors, periods=periods,
                  sealed=sealed, message=message, last=state.jobs.last.get("run"))


async def score_post(request: Request) -> Response:
    state = _state(request)
    form = await checked_form(request)
    allow_errors = form.get("allow_errors") == "1"
    compare_to = form.get("compare_to") or None
    scheme = state.scheme()
    if compare_to is not None and compare_to not in [p.name for p in state.periods()]:
        return await score_get(request, message=f"没有 {compare_to} 期的归档，不能作为比较基期。", status=400)
    check = state.fresh_check()
    if check is not None and check.outcome is not None and check.outcome.validated.error_count and not allow_errors:
        count = check.outcome.validated.error_count
        return await score_get(request, status=409, message=(
            f"发现 {count} 个错误，未计分。请各单位更正后重新报送，或勾选「有错误也继续计分」（出错的单元格留空不计分）。"))
    work = state.work
    # A run from a terminal (or another page) on this folder holds the archive's lock: say so now, not after reading.
    archive.acquire_lock(work.outputs, attempts=1).release()
    fingerprint = uploads.inbox_fingerprint(work)
    template_dir = work.root / "templates"

    def job(progress):
        # The archive's lock file is taken inside write_period: a terminal run cannot write at the same time.
        return pipeline.run(work.inbox, work.scheme, out_root=work.outputs, allow_errors=allow_errors, progress=progress,
                            template_dir=template_dir, compare_to=compare_to)

    def done(finished):
        result = finished.result
        validated = getattr(getattr(result, "results", None), "validated", None) or getattr(result, "validated", None)
        if validated is not None:
            state.check = CheckState(fingerprint, pipeline.CheckOutcome(scheme, validated, None))

    state.jobs.start("run", "计分", job, on_done=done)
    return RedirectResponse("/score", status_code=303)


async def job_fragment(request: Request) -> HTMLResponse:
    state = _state(request)
    kind = request.query_params.get("kind", "")
    job = state.jobs.running or state.jobs.last.get(kind) or state.jobs.current
    response = render(request, "_job.html", job=job, kind=kind, refresh=request.query_params.get("refresh") == "1")
    if job is not None and job.state != "running" and request.query_params.get("refresh") == "1":
        response.headers["HX-Refresh"] = "true"
    return response


# --------------------------------------------------------------------------- 结果


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
    from ..period_status import publication_window

    window = None if data["sealed"] else publication_window(data["folder"])
    pending = publication.chinese_date(window[1]) if window and date.today() <= window[1] else None
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
    feedback = [f for f in data["files"] if f.startswith(f"{archive.FEEDBACK_DIR}/{unit}_")]
    peers = totals[totals["group"].astype(str) == str(total.get("group"))]
    return {"total": {k: total.get(k) for k in ("unit_code", "unit_name", "group", "indicator_total", "bonus",
                                                 "deduction", "total", "rank", "grade", "grade_note", "flags",
                                                 "group_size", "veto_items")},
            "best": views.num(pd.to_numeric(peers["total"], errors="coerce").max()),
            "mean": views.num(pd.to_numeric(peers["total"], errors="coerce").mean()),
            "lines": lines, "lost_most": lost_most, "gap_headers": gap_headers, "gap_cells": gap_cells,
            "feedback": feedback[0] if feedback else None}


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
        from ..period_status import refuse_during_publication  # the rule `kaohe seal` applies

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


# --------------------------------------------------------------------------- 历史


async def history_xlsx(request: Request) -> Response:
    state = _state(request)

    def build() -> bytes:
        table = archive.history_table(state.work.outputs)
        with tempfile.TemporaryDirectory(dir=state.work.state) as tmp:
            return period_outputs.write_history_xlsx(Path(tmp) / "history.xlsx", table).read_bytes()

    return download(await run_in_threadpool(build), "历年考核.xlsx", XLSX)


async def mail_post(request: Request) -> Response:
    """邮件: the same call as `kaohe mail` (preview as .eml files, or send what has not gone out yet)."""
    from .. import mail

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


async def history_get(request: Request) -> HTMLResponse:
    state = _state(request)
    table = await run_in_threadpool(archive.history_table, state.work.outputs)
    return render(request, "history.html", active="history", groups=views.history_groups(table))


# --------------------------------------------------------------------------- 模拟


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
    scores = result.scores.rename(columns=SIM_HEADERS)
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


# --------------------------------------------------------------------------- login (--lan only)


async def login_get(request: Request) -> HTMLResponse:
    return render(request, "login.html", active="", message="")


async def login_post(request: Request) -> Response:
    state = _state(request)
    form = await checked_form(request)
    if await run_in_threadpool(login, request, state.security, form.get("password", "")):
        return RedirectResponse("/", status_code=303)
    return render(request, "login.html", status=403, active="", message="密码不正确。")
