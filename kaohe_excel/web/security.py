"""Who may use the page and from where: sessions, CSRF tokens, the Host check against DNS
rebinding, the optional password for --lan, and headers that keep the page inert."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from urllib.parse import urlsplit

from starlette.middleware.base import BaseHTTPMiddleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response

from kaohe_excel.base.errors import KaoheError

SESSION_COOKIE = "kaohe_session"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
LOCAL_HOSTS = {"127.0.0.1", "localhost"}
CSP = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
       "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'")
OPEN_PATHS = ("/static/", "/login")


class CsrfFailed(KaoheError):
    """A form arrived without this session's token (another site, or a page from before a restart)."""


class Security:
    def __init__(self, password: str | None = None, local_only: bool = True):
        self.secret = secrets.token_bytes(32)  # new per server start: old pages must be reloaded
        self.password = password
        self.local_only = local_only
        self.sessions: dict[str, dict] = {}
        self.failed_logins = 0

    def token(self, sid: str) -> str:
        return hmac.new(self.secret, sid.encode("ascii", "replace"), hashlib.sha256).hexdigest()[:40]

    def token_ok(self, sid: str | None, token: str | None) -> bool:
        if not sid or not token or sid not in self.sessions:
            return False
        return hmac.compare_digest(self.token(sid), str(token))

    def check_password(self, given: str) -> bool:
        if not self.password:
            return True
        ok = hmac.compare_digest(hashlib.sha256(given.encode()).digest(), hashlib.sha256(self.password.encode()).digest())
        if not ok:
            self.failed_logins += 1
            time.sleep(min(3.0, 0.5 * self.failed_logins))  # guessing costs time
        return ok


def _host_name(host_header: str) -> str:
    host = host_header.strip().lower()
    if host.startswith("["):
        return host.split("]")[0] + "]"
    return host.split(":")[0]


class SecurityMiddleware(BaseHTTPMiddleware):
    def __init__(self, app, security: Security):
        super().__init__(app)
        self.security = security

    async def dispatch(self, request: Request, call_next) -> Response:
        sec = self.security
        host = request.headers.get("host", "")
        if sec.local_only and _host_name(host) not in LOCAL_HOSTS:
            # A page of another site that re-points its own name at 127.0.0.1 arrives with that name.
            return PlainTextResponse("拒绝访问：只接受通过 127.0.0.1 或 localhost 打开的页面。", status_code=400)
        if request.method not in ("GET", "HEAD", "OPTIONS"):
            origin = request.headers.get("origin")
            if origin and origin != "null" and urlsplit(origin).netloc.lower() != host.lower():
                return PlainTextResponse("拒绝访问：表单来自其他网站。", status_code=403)
        sid = request.cookies.get(SESSION_COOKIE)
        new_session = sid is None or sid not in sec.sessions
        if new_session:
            sid = secrets.token_urlsafe(24)
            sec.sessions[sid] = {"auth": not sec.password}
        request.state.sid = sid
        request.state.csrf = sec.token(sid)
        request.state.authenticated = sec.sessions[sid]["auth"]
        if not request.state.authenticated and not request.url.path.startswith(OPEN_PATHS):
            response: Response = RedirectResponse("/login", status_code=303)
            if request.headers.get("hx-request"):
                response = Response(status_code=204, headers={"HX-Redirect": "/login"})
        else:
            response = await call_next(request)
        if new_session:
            response.set_cookie(SESSION_COOKIE, sid, httponly=True, samesite="strict", path="/")
        response.headers.setdefault("Content-Security-Policy", CSP)
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "no-referrer"
        response.headers["X-Frame-Options"] = "DENY"
        response.headers.setdefault("Cache-Control", "no-store")
        return response


def login(request: Request, security: Security, password: str) -> bool:
    if security.check_password(password):
        security.sessions[request.state.sid]["auth"] = True
        return True
    return False
