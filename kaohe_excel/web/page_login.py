"""The password page of `kaohe serve --lan`."""

from __future__ import annotations


from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from kaohe_excel.web.routes import _state, checked_form, render
from kaohe_excel.web.security import login


async def login_get(request: Request) -> HTMLResponse:
    return render(request, "login.html", active="", message="")


async def login_post(request: Request) -> Response:
    state = _state(request)
    form = await checked_form(request)
    if await run_in_threadpool(login, request, state.security, form.get("password", "")):
        return RedirectResponse("/", status_code=303)
    return render(request, "login.html", status=403, active="", message="密码不正确。")
