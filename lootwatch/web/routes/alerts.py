"""One alert: its evidence, the decision form, the evidence bundle."""

from __future__ import annotations

import logging
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from lootwatch.alerts.evidence import build_evidence_zip
from lootwatch.alerts.review import MAX_COMMENT, decide, show_item
from lootwatch.alerts.states import ACTIONS, STATES, allowed_actions
from lootwatch.core.errors import BadInputError, NotFoundError, ServiceUnavailable, StateError
from lootwatch.matcher.classifier_store import current_checkpoint
from lootwatch.web.deps import CsrfChecked, Ctx, CurrentUser, WebContext
from lootwatch.web.gallery_jobs import enqueue_gallery_addition, gallery_job_state
from lootwatch.web.pages import error_page, render
from lootwatch.web.sessions import User
from lootwatch.web.stored import is_stored

log = logging.getLogger(__name__)
router = APIRouter()
# descriptions longer than this start collapsed, so the photos and the form stay in view
COLLAPSE_DESCRIPTION = 280


def actions_for(state: str, role: str) -> list[str]:
    # escalation hands an item to a senior: only an admin settles an escalated item
    if state == "escalated" and role != "admin":
        return []
    return allowed_actions(state)


def item_page(
    request: Request, ctx: WebContext, item_id: int, user: User, status: int = 200, error: str | None = None
) -> Response:
    try:
        d = show_item(ctx.db, item_id)
    except NotFoundError as exc:
        return error_page(request, 404, str(exc))
    item = d["item"]
    matches = d["matches"]
    best = next((m for m in matches if m["id"] == item["best_match_id"]), matches[0] if matches else None)
    for p in d["listing_photos"]:
        p["available"] = p["status"] != "rejected" and is_stored(ctx.store, p["stored_path"])
    for p in d["artefact_photos"]:
        p["available"] = is_stored(ctx.store, p["stored_path"])
    if best is not None:
        best["photo_available"] = is_stored(ctx.store, best["photo_stored_path"])
        best["gallery_available"] = is_stored(ctx.store, best["gallery_stored_path"])
    geometry = (item.get("rule_evidence") or {}).get("geometry")
    return render(
        request,
        "item.html",
        status,
        d=d,
        best=best,
        other_photos=[p for p in d["listing_photos"] if best is None or p["id"] != best["photo_id"]],
        geometry=geometry if isinstance(geometry, dict) else None,
        error=error,
        actions=actions_for(item["state"], user.role),
        escalated_needs_admin=item["state"] == "escalated" and not user.is_admin,
        has_classifier=current_checkpoint(ctx.settings) is not None,
        gallery_job=gallery_job_state(ctx.redis_url, item_id) if item["state"] == "confirmed" else None,
        collapse_description=len(d["listing"]["description"] or "") > COLLAPSE_DESCRIPTION,
        max_comment=MAX_COMMENT,
    )


@router.get("/alerts/{item_id}")
def item(request: Request, ctx: Ctx, user: CurrentUser, item_id: int) -> Response:
    return item_page(request, ctx, item_id, user)


@router.post("/alerts/{item_id}/decide", dependencies=[CsrfChecked])
def decide_item(
    request: Request,
    ctx: Ctx,
    user: CurrentUser,
    item_id: int,
    action: Annotated[str, Form(max_length=40)],
    expect_state: Annotated[str, Form(max_length=40)],
    comment: Annotated[str, Form()] = "",
    add_to_gallery: Annotated[str, Form(max_length=10)] = "",
) -> Response:
    if action not in ACTIONS or expect_state not in STATES:
        return item_page(request, ctx, item_id, user, 400, "Bad input: unknown action or state.")
    comment = comment.strip()
    if not comment:
        return item_page(request, ctx, item_id, user, 400, "A decision needs a comment for the audit log.")
    if len(comment) > MAX_COMMENT:
        return item_page(
            request, ctx, item_id, user, 400,
            f"The comment has {len(comment)} characters; at most {MAX_COMMENT} are kept in the audit log.",
        )  # fmt: skip
    if action not in actions_for(expect_state, user.role):
        return item_page(request, ctx, item_id, user, 403, f"You cannot {action} an item that is {expect_state}.")
    try:
        d = decide(ctx.db, item_id, action, user.username, comment, expect_state=expect_state)
    except NotFoundError as exc:
        return error_page(request, 404, str(exc))
    except (StateError, BadInputError) as exc:
        return item_page(request, ctx, item_id, user, 409, str(exc))
    flash = f"Item {item_id}: {d.from_state} → {d.to_state}."
    if add_to_gallery and d.to_state == "confirmed":
        # after the decision committed: a queue that does not answer leaves the confirmation standing
        try:
            enqueue_gallery_addition(ctx.redis_url, ctx.settings.queue_name, item_id)
            flash += " Adding the listing photos to the gallery is queued for the workers."
        except ServiceUnavailable as exc:
            log.warning("gallery job not queued", extra={"action": "gallery.not_queued", "review_item": item_id,
                                                         "error": str(exc)[:200]})  # fmt: skip
            flash += f" The listing photos were NOT queued for the gallery: {exc}"
    request.session["flash"] = flash
    return RedirectResponse(f"/alerts/{item_id}", status_code=303)


@router.get("/alerts/{item_id}/evidence.zip")
def evidence_zip(ctx: Ctx, user: CurrentUser, item_id: int) -> Response:
    try:
        data = build_evidence_zip(ctx.db, ctx.store, item_id)
    except NotFoundError as exc:
        return Response(str(exc), status_code=404, media_type="text/plain")
    return Response(
        data,
        media_type="application/zip",
        headers={"Content-Disposition": f'attachment; filename="lootwatch-evidence-{item_id}.zip"'},
    )
