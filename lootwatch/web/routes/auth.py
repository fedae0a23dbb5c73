"""Log in (throttled), log out, change one's password. Logging out and changing the password end
every session of the user, so a cookie copied from any of their browsers stops working."""

from __future__ import annotations

import logging
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from lootwatch.core.errors import BadInputError
from lootwatch.web.accounts import MAX_PASSWORD, authenticate
from lootwatch.web.accounts import set_password as change_password
from lootwatch.web.deps import CsrfChecked, CsrfFailed, Ctx, CurrentUser, checked_csrf, client_of
from lootwatch.web.pages import render
from lootwatch.web.sessions import end_sessions, session_user, start_session

log = logging.getLogger(__name__)
router = APIRouter()


def local_path(target: str) -> str:
    # only same-site paths: "next" must never send someone to another host after login
    return target if target.startswith("/") and not target.startswith(("//", "/\\")) else "/alerts"


@router.get("/login")
def login_form(request: Request, next: str = "/alerts") -> Response:
    return render(request, "login.html", next=local_path(next), error=None)


@router.post("/login")
def login(
    request: Request,
    ctx: Ctx,
    username: Annotated[str, Form(max_length=200)],
    password: Annotated[str, Form(max_length=MAX_PASSWORD)],
    csrf: Annotated[str, Form()] = "",
    next: Annotated[str, Form(max_length=2000)] = "/alerts",
) -> Response:
    target = local_path(next)
    try:
        checked_csrf(request, csrf)
    except CsrfFailed:
        return render(request, "login.html", 403, next=target, error="The form expired; try again.")
    client = client_of(request)
    refusal = ctx.throttle.check(ctx.db, username, client)
    if refusal is not None:
        return _refused(request, target, refusal.status, refusal.retry_after_s, refusal.message)
    with ctx.throttle.verify_slot() as free:
        if not free:
            log.warning("login refused: no free password-check slot",
                        extra={"action": "web.login_busy", "username": username, "client": client})  # fmt: skip
            return _refused(request, target, 503, 5, "The server is busy checking passwords; try again shortly.")
        user = authenticate(ctx.db, username, password)
    if user is None:
        ctx.throttle.record(ctx.db, username, client, "failed")
        return render(request, "login.html", 401, next=target, error="Wrong username or password.")
    ctx.throttle.record(ctx.db, username, client, "ok")
    request.session.clear()  # a fresh session (and CSRF token) on login: no fixation
    request.session["sid"] = start_session(ctx.db, user["id"], client)
    return RedirectResponse(target, status_code=303)


def _refused(request: Request, target: str, status: int, retry_after_s: int, message: str) -> Response:
    response = render(request, "login.html", status, next=target, error=message)
    response.headers["Retry-After"] = str(retry_after_s)
    return response


@router.post("/logout", dependencies=[CsrfChecked])
def logout(request: Request, ctx: Ctx) -> Response:
    user = session_user(ctx.db, request.session.get("sid"))
    if user is not None:
        end_sessions(ctx.db, user.id, "logout")
    request.session.clear()
    return RedirectResponse("/login", status_code=303)


@router.get("/account/password")
def password_form(request: Request, user: CurrentUser) -> Response:
    return render(request, "password.html", error=None)


@router.post("/account/password", dependencies=[CsrfChecked])
def password_change(
    request: Request,
    ctx: Ctx,
    user: CurrentUser,
    current: Annotated[str, Form(max_length=MAX_PASSWORD)],
    new: Annotated[str, Form(max_length=MAX_PASSWORD)],
    repeat: Annotated[str, Form(max_length=MAX_PASSWORD)],
) -> Response:
    if new != repeat:
        return render(request, "password.html", 400, error="The two new passwords differ.")
    refusal = ctx.throttle.check(ctx.db, user.username, client_of(request))
    if refusal is not None:
        return render(request, "password.html", refusal.status, error=refusal.message)
    with ctx.throttle.verify_slot() as free:
        if not free:
            return render(request, "password.html", 503, error="The server is busy; try again shortly.")
        if authenticate(ctx.db, user.username, current) is None:
            ctx.throttle.record(ctx.db, user.username, client_of(request), "failed")
            return render(request, "password.html", 400, error="The current password is wrong.")
        try:
            change_password(ctx.db, user.username, new)
        except BadInputError as exc:
            return render(request, "password.html", 400, error=str(exc))
    request.session.clear()
    request.session["flash"] = "Password changed: every session was ended; log in with the new password."
    return RedirectResponse("/login", status_code=303)
