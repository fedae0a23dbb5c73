"""The review app: log in, page through the queue, look at the evidence, decide.

Server-rendered (Jinja2 with autoescape: every listing field is text, never markup) and free of
JavaScript, so the Content-Security-Policy can forbid scripts outright. The signed session cookie
(SameSite=strict) carries a token of a server-side session (:mod:`lootwatch.web.sessions`) and a
per-session CSRF token that every form repeats. Routes live in :mod:`lootwatch.web.routes`, one
router per area; the logged-in user and their role come from ``Depends`` (:mod:`lootwatch.web.deps`).
"""

from __future__ import annotations

import secrets
from typing import Any
from urllib.parse import urlencode

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse, Response
from starlette.exceptions import HTTPException
from starlette.middleware.sessions import SessionMiddleware

from lootwatch.core.db import Database
from lootwatch.core.settings import Settings
from lootwatch.core.storage import BlobStore
from lootwatch.web.deps import CsrfFailed, Forbidden, LoginRequired, WebContext
from lootwatch.web.input_guard import InputGuard
from lootwatch.web.pages import error_page, make_templates
from lootwatch.web.routes import admin, alerts, auth, media, queue
from lootwatch.web.sessions import SESSION_HOURS
from lootwatch.web.throttle import LoginThrottle

SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; img-src 'self'; style-src 'self' 'unsafe-inline'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",  # opening a listing must not tell the seller where we came from
}


def secret_key(settings: Settings) -> str:
    """The cookie-signing key, created once per data dir (0600) so sessions survive restarts."""
    path = settings.data_dir / "web-secret"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch(mode=0o600)
        path.write_text(secrets.token_urlsafe(48))
    return path.read_text().strip()


def create_app(
    settings: Settings,
    db: Database,
    *,
    key: str | None = None,
    https_only: bool = False,
    redis_url: str | None = None,
    throttle: LoginThrottle | None = None,
) -> FastAPI:
    """The review app. ``redis_url``: the job queue that takes "add to the gallery" (default:
    ``settings.redis_url``); ``throttle``: login limits (default :class:`LoginThrottle`)."""
    app = FastAPI(title="lootwatch review", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.lootwatch = WebContext(
        settings=settings,
        db=db,
        store=BlobStore(settings.store_dir),
        templates=make_templates(),
        throttle=throttle or LoginThrottle(),
        redis_url=redis_url or settings.redis_url,
    )
    app.add_middleware(
        SessionMiddleware,
        secret_key=key or secret_key(settings),
        session_cookie="lootwatch_session",
        max_age=SESSION_HOURS * 3600,
        same_site="strict",
        https_only=https_only,
    )

    @app.middleware("http")
    async def security_headers(request: Request, call_next: Any) -> Response:
        response: Response = await call_next(request)
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        return response

    app.add_middleware(InputGuard)  # outermost: a malformed request reaches nothing else

    @app.exception_handler(LoginRequired)
    async def to_login(request: Request, exc: LoginRequired) -> Response:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse("/login?" + urlencode({"next": target}), status_code=303)

    @app.exception_handler(Forbidden)
    async def forbidden(request: Request, exc: Forbidden) -> Response:
        return error_page(request, 403, str(exc))

    @app.exception_handler(CsrfFailed)
    async def csrf_failed(request: Request, exc: CsrfFailed) -> Response:
        return error_page(request, 403, "The form expired (CSRF check failed); reload the page.")

    @app.exception_handler(RequestValidationError)
    async def bad_input(request: Request, exc: RequestValidationError) -> Response:
        return error_page(request, 400, "Bad input: " + "; ".join(_problem(e) for e in exc.errors()))

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> Response:
        message = {404: "No such page.", 405: "That method is not allowed here."}.get(exc.status_code, str(exc.detail))
        return error_page(request, exc.status_code, message)

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> Response:
        # for compose / load balancer health checks: the app answers and its database does too
        db.fetchone("SELECT 1 AS ok")
        return Response("ok", media_type="text/plain")

    @app.get("/favicon.ico", include_in_schema=False)
    def favicon() -> Response:
        # browsers ask for it on every page: no icon, and no 404 in their consoles either
        return Response(status_code=204, headers={"Cache-Control": "public, max-age=604800"})

    for router in (auth.router, queue.router, alerts.router, media.router, admin.router):
        app.include_router(router)
    return app


def _problem(error: Any) -> str:
    where = ".".join(str(part) for part in error.get("loc", ())[1:]) or "request"
    return f"{where}: {error.get('msg', 'invalid')}"
