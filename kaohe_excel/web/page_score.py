"""计分: start a run of the inbox (the archive's lock taken as a terminal run takes it), and the job widget
every page polls."""

from __future__ import annotations


from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from kaohe_excel.storage import archive
from kaohe_excel.jobs import pipeline
from kaohe_excel.web import uploads
from kaohe_excel.web.routes import CheckState, _state, checked_form, render


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
