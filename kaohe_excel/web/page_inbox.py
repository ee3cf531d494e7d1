"""收表: the units and what each has returned, uploads into the inbox and removals from it; and the
templates to download (下载模板)."""

from __future__ import annotations

import io
import tempfile
import zipfile
from pathlib import Path

from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from kaohe_excel.base.issues import Severity
from kaohe_excel.scheme.workbook import Scheme
from kaohe_excel.web import uploads
from kaohe_excel.web.routes import XLSX, AppState, CheckState, _state, checked_form, download, render
from kaohe_excel.web.security import CSRF_HEADER


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
    from kaohe_excel.outputs.template import write_assessment_workbook, write_templates

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
        # the same files as `kaohe template` (with --lead): 复核 and 测评 workbooks included
        from kaohe_excel.base import origin
        from kaohe_excel.jobs.pipeline import TemplatePlan, write_command_templates

        key, created = origin.ensure_key(scheme)
        paths = write_command_templates(TemplatePlan(scheme, out, None, what == "leads", key, created, ""))
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as bundle:
            for path in paths:
                bundle.write(path, path.name)
        name = "牵头单位核定表.zip" if what == "leads" else f"全部模板_{scheme.meta.period}.zip"
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
