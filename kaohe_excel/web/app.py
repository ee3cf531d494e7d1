"""`kaohe serve`: the Starlette application over one working folder, and the server around it."""

from __future__ import annotations

import socket
import threading
import tomllib
import traceback
import webbrowser
from pathlib import Path

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from kaohe_excel.base.errors import KaoheError, OutputsLocked, PeriodNotFound, PeriodSealed
from kaohe_excel.web import page_check
from kaohe_excel.web import page_history
from kaohe_excel.web import page_home
from kaohe_excel.web import page_inbox
from kaohe_excel.web import page_login
from kaohe_excel.web import page_results
from kaohe_excel.web import page_score
from kaohe_excel.web import page_simulate
from kaohe_excel.web import routes
from kaohe_excel.web import views
from kaohe_excel.web.folder import WorkFolder
from kaohe_excel.web.jobs import JobBusy
from kaohe_excel.web.security import CsrfFailed, Security, SecurityMiddleware

LOCAL_HOST = "127.0.0.1"
LAN_HOST = "0.0.0.0"
DEFAULT_PORT = 8765
MIN_PASSWORD = 8


def _error_page(request: Request, message: str, status: int) -> HTMLResponse:
    state = request.app.state.kaohe
    csrf = getattr(request.state, "csrf", "")
    page = state.env.get_template("error.html").render(request=request, csrf=csrf, nav=routes.NAV, scheme=None,
                                                       work=state.work, job=None, active="", message=message,
                                                       lan=not state.security.local_only)
    return HTMLResponse(page, status_code=status)


async def _kaohe_error(request: Request, exc: Exception) -> HTMLResponse:
    status = 400
    if isinstance(exc, (OutputsLocked, PeriodSealed, JobBusy)):
        status = 409
    elif isinstance(exc, PeriodNotFound):
        status = 404
    elif isinstance(exc, CsrfFailed):
        status = 403
    return _error_page(request, str(exc), status)


async def _http_error(request: Request, exc: HTTPException) -> HTMLResponse:
    message = exc.detail if isinstance(exc.detail, str) and exc.status_code == 404 and exc.detail != "Not Found" else {
        404: "找不到这个页面。", 405: "不支持这种访问方式。"}.get(exc.status_code, "请求有误。")
    return _error_page(request, message, exc.status_code)


async def _internal_error(request: Request, exc: Exception) -> HTMLResponse:
    traceback.print_exception(exc)  # the details stay in the server window
    return _error_page(request, f"程序内部错误（{type(exc).__name__}）。请将服务器窗口中的信息反馈给维护人员。", 500)


def create_app(work: WorkFolder, password: str | None = None, local_only: bool = True) -> Starlette:
    security = Security(password=password, local_only=local_only)
    app = Starlette(
        debug=False,
        routes=[
            Route("/", page_home.home),
            Route("/inbox", page_inbox.inbox_get),
            Route("/inbox/upload", page_inbox.inbox_upload, methods=["POST"]),
            Route("/inbox/remove", page_inbox.inbox_remove, methods=["POST"]),
            Route("/template/unit/{unit}", page_inbox.template_unit),
            Route("/template/{what}", page_inbox.template_bundle),
            Route("/check", page_check.check_get),
            Route("/check", page_check.check_post, methods=["POST"]),
            Route("/check/report.xlsx", page_check.check_download),
            Route("/check/unit/{unit}", page_check.check_download),
            Route("/score", page_score.score_get),
            Route("/score", page_score.score_post, methods=["POST"]),
            Route("/job", page_score.job_fragment),
            Route("/results", page_results.results_index),
            Route("/results/{period}", page_results.results_period),
            Route("/results/{period}/unit/{unit}", page_results.results_unit),
            Route("/results/{period}/seal", page_results.seal_post, methods=["POST"]),
            Route("/results/{period}/verify", page_results.verify_post, methods=["POST"]),
            Route("/files/{period}/all.zip", page_results.period_zip),
            Route("/files/{period}/{name:path}", page_results.period_file),
            Route("/results/{period}/mail", page_results.mail_post, methods=["POST"]),
            Route("/history", page_history.history_get),
            Route("/history.xlsx", page_history.history_xlsx),
            Route("/simulate", page_simulate.simulate_get),
            Route("/simulate", page_simulate.simulate_post, methods=["POST"]),
            Route("/login", page_login.login_get),
            Route("/login", page_login.login_post, methods=["POST"]),
            Mount("/static", StaticFiles(directory=str(views.STATIC_DIR)), name="static"),
        ],
        exception_handlers={KaoheError: _kaohe_error, HTTPException: _http_error, Exception: _internal_error},
    )
    app.add_middleware(SecurityMiddleware, security=security)
    app.state.kaohe = routes.AppState(work, security)
    return app


def lan_password(work: WorkFolder) -> str:
    """[web] password from kaohe.toml in the working folder (or the current one); --lan refuses without it."""
    for path in (work.config, Path("kaohe.toml")):
        if path.is_file():
            try:
                data = tomllib.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError) as exc:
                raise KaoheError(f"无法读取 {path}：{exc}。请检查文件格式（UTF-8 编码的 TOML）")
            password = str((data.get("web") or {}).get("password") or "")
            if len(password) < MIN_PASSWORD:
                break
            return password
    raise KaoheError(f"使用 --lan 让局域网内其他电脑访问时，必须先在 kaohe.toml 的 [web] 一节设置访问密码"
                     f"（password = \"至少{MIN_PASSWORD}位\"）。只在本机使用时请去掉 --lan")


def check_port(host: str, port: int) -> None:
    """Fail with one Chinese line before the server starts when the port is taken."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise KaoheError(f"无法在端口 {port} 启动（{exc.strerror or exc}）。端口可能已被占用，请用 --port 换一个端口") from None


def bind_host(lan: bool) -> str:
    return LAN_HOST if lan else LOCAL_HOST


def serve(work: WorkFolder, port: int = DEFAULT_PORT, lan: bool = False, open_browser: bool = True,
          announce=print) -> None:
    """Run the server until Ctrl-C; the page opens in the default browser."""
    import uvicorn

    password = lan_password(work) if lan else None
    check_port(bind_host(lan), port)
    app = create_app(work, password=password, local_only=not lan)
    host = bind_host(lan)
    url = f"http://127.0.0.1:{port}/"
    announce(f"考核工作页面已启动：{url}（工作文件夹 {work.root}）")
    if lan:
        announce(f"已允许局域网访问（端口 {port}），访问时需输入 kaohe.toml 中设置的密码。")
    announce("关闭本窗口或按 Ctrl+C 停止。")
    if open_browser:
        threading.Timer(1.0, lambda: webbrowser.open(url)).start()
    config = uvicorn.Config(app, host=host, port=port, log_level="warning", access_log=False)
    uvicorn.Server(config).run()
