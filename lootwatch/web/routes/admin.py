"""Admin only: accounts, their live sessions and recent login failures; end a user's sessions."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from lootwatch.web.accounts import list_users
from lootwatch.web.deps import AdminUser, CsrfChecked, Ctx
from lootwatch.web.pages import error_page, render
from lootwatch.web.sessions import end_sessions, live_sessions

router = APIRouter(prefix="/admin")


@router.get("/users")
def users(request: Request, ctx: Ctx, admin: AdminUser) -> Response:
    attempts = ctx.db.fetchall(
        """SELECT attempted_at, username, client, outcome FROM login_attempts
           WHERE outcome <> 'ok' ORDER BY id DESC LIMIT 50"""
    )
    return render(request, "users.html", users=list_users(ctx.db), sessions=live_sessions(ctx.db), attempts=attempts)


@router.post("/users/{user_id}/end-sessions", dependencies=[CsrfChecked])
def end_user_sessions(request: Request, ctx: Ctx, admin: AdminUser, user_id: int) -> Response:
    row = ctx.db.fetchone("SELECT username FROM users WHERE id = %s", (user_id,))
    if row is None:
        return error_page(request, 404, f"no user {user_id}")
    n = end_sessions(ctx.db, user_id, f"ended by admin {admin.username}")
    request.session["flash"] = f"{n} session(s) of {row['username']} ended."
    return RedirectResponse("/admin/users", status_code=303)
