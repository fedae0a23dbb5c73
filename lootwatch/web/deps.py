"""What routes take through ``Depends``: the app's context, the logged-in user, an admin, a valid CSRF token."""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import Depends, Form, Request
from fastapi.templating import Jinja2Templates

from lootwatch.core.db import Database
from lootwatch.core.settings import Settings
from lootwatch.core.storage import BlobStore
from lootwatch.web.sessions import User, session_user
from lootwatch.web.throttle import LoginThrottle


@dataclass
class WebContext:
    settings: Settings
    db: Database
    store: BlobStore
    templates: Jinja2Templates
    throttle: LoginThrottle
    redis_url: str | None
    # models loaded on first use (saliency classifier by version)
    models: dict[str, Any] = field(default_factory=dict)


class LoginRequired(Exception):
    """No live session: answered with a redirect to /login."""


class Forbidden(Exception):
    """The user's role may not do this: answered 403 with the message."""


class CsrfFailed(Exception):
    """A form without the session's CSRF token: answered 403."""


def web_context(request: Request) -> WebContext:
    ctx: WebContext = request.app.state.lootwatch
    return ctx


Ctx = Annotated[WebContext, Depends(web_context)]


def current_user(request: Request, ctx: Ctx) -> User:
    user = session_user(ctx.db, request.session.get("sid"))
    if user is None:
        request.session.pop("sid", None)
        raise LoginRequired
    request.state.user = user  # for the page header: never read back from the cookie
    return user


CurrentUser = Annotated[User, Depends(current_user)]


def admin_user(user: CurrentUser) -> User:
    if not user.is_admin:
        raise Forbidden("Only an admin may do this.")
    return user


AdminUser = Annotated[User, Depends(admin_user)]


def csrf_token(request: Request) -> str:
    token = request.session.get("csrf")
    if not isinstance(token, str):
        token = secrets.token_urlsafe(32)
        request.session["csrf"] = token
    return token


def checked_csrf(request: Request, csrf: Annotated[str, Form()] = "") -> None:
    token = request.session.get("csrf")
    if not (isinstance(token, str) and csrf and hmac.compare_digest(token, csrf)):
        raise CsrfFailed


CsrfChecked = Depends(checked_csrf)


def client_of(request: Request) -> str:
    return request.client.host if request.client else "unknown"
