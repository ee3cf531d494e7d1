"""What every page shares: the app's state over one working folder (the scheme in use, the latest
check of the inbox, archived periods read once per change), rendering a page, the CSRF-checked form
and downloads. The pages are page_*.py, one module per page of NAV; app.py routes to them.

Each page calls the same library functions as the CLI (pipeline, archive, gap, template, report): no
rule is implemented twice. A path from a request is never joined to a folder: periods, files and
units are looked up in what the archive and the scheme list."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pandas as pd
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, Response

from kaohe_excel.storage import archive
from kaohe_excel.jobs import pipeline
from kaohe_excel.inputs import read
from kaohe_excel.base.errors import KaoheError, PeriodNotFound
from kaohe_excel.scheme.workbook import Scheme, load_scheme
from kaohe_excel.web import uploads
from kaohe_excel.web import views
from kaohe_excel.web.folder import WorkFolder
from kaohe_excel.web.jobs import Jobs
from kaohe_excel.web.security import CSRF_FIELD, CSRF_HEADER, CsrfFailed, Security

NAV = [("home", "/", "首页"), ("inbox", "/inbox", "收表"), ("check", "/check", "校验"), ("score", "/score", "计分"),
       ("results", "/results", "结果"), ("history", "/history", "历史"), ("simulate", "/simulate", "模拟")]


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
