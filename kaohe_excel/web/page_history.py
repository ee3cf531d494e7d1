"""历史: every archived period's totals, ranks and grades, on the page and as a workbook."""

from __future__ import annotations

import tempfile
from pathlib import Path

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from kaohe_excel.storage import archive
from kaohe_excel.outputs import period_outputs
from kaohe_excel.web import views
from kaohe_excel.web.routes import XLSX, _state, download, render


async def history_xlsx(request: Request) -> Response:
    state = _state(request)

    def build() -> bytes:
        table = archive.history_table(state.work.outputs)
        with tempfile.TemporaryDirectory(dir=state.work.state) as tmp:
            return period_outputs.write_history_xlsx(Path(tmp) / "history.xlsx", table).read_bytes()

    return download(await run_in_threadpool(build), "历年考核.xlsx", XLSX)


async def history_get(request: Request) -> HTMLResponse:
    state = _state(request)
    table = await run_in_threadpool(archive.history_table, state.work.outputs)
    return render(request, "history.html", active="history", groups=views.history_groups(table))
