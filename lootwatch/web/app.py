"""The review app: log in, page through the queue, look at the evidence, decide.

Server-rendered (Jinja2 with autoescape: every listing field is text, never markup) and free of
JavaScript, so the Content-Security-Policy can forbid scripts outright. Sessions are signed
cookies (SameSite=strict); every form carries a per-session CSRF token.
"""

from __future__ import annotations

import hmac
import mimetypes
import secrets
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from fastapi import FastAPI, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from starlette.middleware.sessions import SessionMiddleware

from lootwatch.alerts.evidence import build_evidence_zip
from lootwatch.alerts.review import count_items, decide, list_items, show_item
from lootwatch.alerts.states import STATES, allowed_actions
from lootwatch.core.db import Database
from lootwatch.core.errors import BadInputError, NotFoundError, StateError, user_errors
from lootwatch.core.files import atomic_write
from lootwatch.core.images import vet_image
from lootwatch.core.settings import Settings
from lootwatch.core.storage import BlobStore, file_of
from lootwatch.matcher.classifier_store import current_checkpoint, current_version
from lootwatch.web.accounts import authenticate, get_user

PAGE_SIZE = 25
SESSION_HOURS = 8
TEMPLATES = Path(__file__).resolve().parent / "templates"
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; img-src 'self'; style-src 'self' 'unsafe-inline'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",  # opening a listing must not tell the seller where we came from
}


class LoginRequired(Exception):
    """Raised by :func:`_user` when no one is logged in; answered with a redirect to /login."""


def secret_key(settings: Settings) -> str:
    """The session-signing key, created once per data dir (0600) so sessions survive restarts."""
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
    descriptor: Any = None,
) -> FastAPI:
    """The review app. ``descriptor``: the live index's descriptor, already loaded (else loaded on
    the first "add to gallery"); models are loaded lazily so the app starts without them."""
    app = FastAPI(title="lootwatch review", docs_url=None, redoc_url=None, openapi_url=None)
    app.add_middleware(
        SessionMiddleware,
        secret_key=key or secret_key(settings),
        session_cookie="lootwatch_session",
        max_age=SESSION_HOURS * 3600,
        same_site="strict",
        https_only=https_only,
    )
    templates = Jinja2Templates(directory=str(TEMPLATES))
    store = BlobStore(settings.store_dir)
    from lootwatch.matcher.store import live_descriptor_spec

    # loaded once, on first use; a given descriptor stands for the live index's
    models: dict[str, Any] = {
        "descriptor": descriptor,
        "descriptor_spec": live_descriptor_spec(settings.index_dir, settings.descriptor) if descriptor else None,
    }

    @app.middleware("http")
    async def security_headers(request: Request, call_next: Any) -> Response:
        response: Response = await call_next(request)
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        return response

    @app.exception_handler(LoginRequired)
    async def to_login(request: Request, exc: LoginRequired) -> Response:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse("/login?" + urlencode({"next": target}), status_code=303)

    def render(request: Request, name: str, status: int = 200, **context: Any) -> HTMLResponse:
        context |= {"user": request.session.get("user"), "csrf": _csrf(request)}
        context["flash"] = request.session.pop("flash", None)
        return templates.TemplateResponse(request, name, context, status_code=status)

    def _user(request: Request) -> dict:
        uid = request.session.get("uid")
        user = get_user(db, uid) if isinstance(uid, int) else None
        if user is None:
            request.session.clear()
            raise LoginRequired
        request.session["user"] = {"username": user["username"], "role": user["role"]}
        return user

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> Response:
        # for compose / load balancer health checks: the app answers and its database does too
        db.fetchone("SELECT 1 AS ok")
        return Response("ok", media_type="text/plain")

    @app.get("/", include_in_schema=False)
    def home() -> Response:
        return RedirectResponse("/alerts", status_code=303)

    @app.get("/login", response_class=HTMLResponse)
    def login_form(request: Request, next: str = "/alerts") -> Response:
        return render(request, "login.html", next=_local(next), error=None)

    @app.post("/login", response_class=HTMLResponse)
    def login(
        request: Request,
        username: str = Form(...),
        password: str = Form(...),
        csrf: str = Form(""),
        next: str = Form("/alerts"),
    ) -> Response:
        if not _csrf_ok(request, csrf):
            return render(request, "login.html", 403, next=_local(next), error="The form expired; try again.")
        user = authenticate(db, username, password)
        if user is None:
            return render(request, "login.html", 401, next=_local(next), error="Wrong username or password.")
        request.session.clear()  # a fresh session (and CSRF token) on login: no fixation
        request.session["uid"] = user["id"]
        return RedirectResponse(_local(next), status_code=303)

    @app.post("/logout")
    def logout(request: Request, csrf: str = Form("")) -> Response:
        if _csrf_ok(request, csrf):
            request.session.clear()
        return RedirectResponse("/login", status_code=303)

    @app.get("/alerts", response_class=HTMLResponse)
    def queue(
        request: Request,
        state: str = "",
        site: str = "",
        collection: str = "",
        min_score: str = "",
        since: str = "",
        until: str = "",
        page: int = 1,
    ) -> Response:
        _user(request)
        filters = {
            "state": state,
            "site": site,
            "collection": collection,
            "min_score": min_score,
            "since": since,
            "until": until,
        }
        error = None
        try:
            query: dict[str, Any] = {
                "state": state or None,
                "site": site or None,
                "collection": collection or None,
                "min_score": float(min_score) if min_score else None,
                "since": _day(since),
                "until": _day(until, next_day=True),
            }
            total = count_items(db, **query)
            page = max(1, min(page, max(1, -(-total // PAGE_SIZE))))
            rows = list_items(db, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE, **query)
        except (ValueError, BadInputError) as exc:
            error, rows, total, page = f"Bad filter: {exc}", [], 0, 1
        pages = max(1, -(-total // PAGE_SIZE))
        active = {k: v for k, v in filters.items() if v}
        return render(
            request,
            "queue.html",
            400 if error else 200,
            rows=rows,
            total=total,
            page=page,
            pages=pages,
            filters=filters,
            error=error,
            states=STATES,
            sites=[r["name"] for r in db.fetchall("SELECT name FROM sources ORDER BY name")],
            collections=[
                r["collection"]
                for r in db.fetchall("SELECT DISTINCT collection FROM artefacts WHERE collection <> '' ORDER BY 1")
            ],
            prev_url="/alerts?" + urlencode({**active, "page": page - 1}) if page > 1 else None,
            next_url="/alerts?" + urlencode({**active, "page": page + 1}) if page < pages else None,
        )

    def item_page(request: Request, item_id: int, user: dict, status: int = 200, error: str | None = None) -> Response:
        try:
            d = show_item(db, item_id)
        except NotFoundError as exc:
            return render(request, "error.html", 404, message=str(exc))
        state = d["item"]["state"]
        return render(
            request,
            "item.html",
            status,
            d=d,
            error=error,
            actions=_actions_for(state, user["role"]),
            escalated_needs_admin=state == "escalated" and user["role"] != "admin",
            listing_href=_http_url(d["listing"]["url"]),
            has_classifier=current_checkpoint(settings) is not None,
        )

    @app.get("/alerts/{item_id}", response_class=HTMLResponse)
    def item(request: Request, item_id: int) -> Response:
        return item_page(request, item_id, _user(request))

    @app.post("/alerts/{item_id}/decide", response_class=HTMLResponse)
    def decide_item(
        request: Request,
        item_id: int,
        action: str = Form(...),
        comment: str = Form(""),
        expect_state: str = Form(...),
        csrf: str = Form(""),
        add_to_gallery: str = Form(""),
    ) -> Response:
        user = _user(request)
        if not _csrf_ok(request, csrf):
            return render(request, "error.html", 403, message="The form expired (CSRF check failed); reload the page.")
        if not comment.strip():
            return item_page(request, item_id, user, 400, "A decision needs a comment for the audit log.")
        if action not in _actions_for(expect_state, user["role"]):
            return item_page(request, item_id, user, 403, f"You cannot {action} an item that is {expect_state}.")
        try:
            d = decide(db, item_id, action, user["username"], comment.strip(), expect_state=expect_state)
        except NotFoundError as exc:
            return render(request, "error.html", 404, message=str(exc))
        except (StateError, BadInputError) as exc:
            return item_page(request, item_id, user, 409, str(exc))
        flash = f"Item {item_id}: {d.from_state} → {d.to_state}."
        if add_to_gallery and d.to_state == "confirmed":
            flash += " " + add_to_gallery_outcome(item_id)
        request.session["flash"] = flash
        return RedirectResponse(f"/alerts/{item_id}", status_code=303)

    def add_to_gallery_outcome(item_id: int) -> str:
        # after the decision committed: a failure here leaves the confirmation standing
        from lootwatch.alerts.feedback import add_listing_photos_to_gallery

        try:
            spec = live_descriptor_spec(settings.index_dir, settings.descriptor)
            if models["descriptor"] is None or models.get("descriptor_spec") != spec:
                from lootwatch.models.descriptor import load_descriptor

                # the live index version's descriptor: a new version may bring its own (gallery fine-tune)
                models["descriptor"], models["descriptor_spec"] = load_descriptor(spec), spec
            added = add_listing_photos_to_gallery(db, settings, item_id, descriptor=models["descriptor"])
        except user_errors() as exc:
            return f"The listing photos were NOT added to the gallery: {exc}"
        text = (
            f"Gallery of {added.artefact_id}: {len(added.added_photo_ids)} photo(s) added, "
            f"{len(added.indexed_photo_ids)} indexed"
        )
        text += f" (index {added.index_version})" if added.index_version else ""
        if added.skipped:
            text += "; skipped " + ", ".join(f"#{k} ({v})" for k, v in sorted(added.skipped.items()))
        return text + "."

    @app.get("/alerts/{item_id}/evidence.zip")
    def evidence_zip(request: Request, item_id: int) -> Response:
        _user(request)
        try:
            data = build_evidence_zip(db, store, item_id)
        except NotFoundError as exc:
            return Response(str(exc), status_code=404, media_type="text/plain")
        return Response(
            data,
            media_type="application/zip",
            headers={"Content-Disposition": f'attachment; filename="lootwatch-evidence-{item_id}.zip"'},
        )

    @app.get("/snapshots/{snapshot_id}")
    def snapshot(request: Request, snapshot_id: int) -> Response:
        _user(request)
        row = db.fetchone("SELECT stored_path FROM page_snapshots WHERE id = %s", (snapshot_id,))
        data = _stored(store, row["stored_path"]) if row else None
        if data is None:
            return Response("no such page snapshot (or its file is missing)", status_code=404, media_type="text/plain")
        # the page is the seller's markup: shown as text in a sandbox, never parsed as a document
        return Response(
            data,
            media_type="text/plain; charset=utf-8",
            headers={
                "Content-Security-Policy": "sandbox",
                "X-Content-Type-Options": "nosniff",
                "Cache-Control": "private, max-age=86400",
            },
        )

    @app.get("/alerts/{item_id}/saliency.png")
    def saliency(request: Request, item_id: int) -> Response:
        _user(request)
        checkpoint, version = current_checkpoint(settings), current_version(settings)
        if checkpoint is None or version is None:
            return Response(
                "no classifier trained yet: saliency needs the live classifier",
                status_code=404,
                media_type="text/plain",
            )
        photo = _best_photo(db, item_id)
        data = _stored(store, photo["stored_path"]) if photo else None
        if photo is None or data is None:
            return Response("no stored listing photo for this alert", status_code=404, media_type="text/plain")
        cached = store.path(f"saliency/{photo['sha256'][:2]}/{photo['sha256']}-{version}.png")
        if not cached.is_file():
            try:
                image = vet_image(data, max_bytes=settings.max_photo_bytes, max_pixels=settings.max_photo_pixels).image
                clf = models.get(f"classifier:{version}") or _load_classifier(checkpoint)
                models[f"classifier:{version}"] = clf
                # a cache: a concurrent reader never sees half a PNG; a lost one is drawn again
                atomic_write(cached, _saliency_png(clf, image), durable=False)
            except user_errors() as exc:
                return Response(f"no saliency for this photo: {exc}", status_code=404, media_type="text/plain")
        return Response(
            cached.read_bytes(), media_type="image/png", headers={"Cache-Control": "private, max-age=86400"}
        )

    @app.get("/photos/{kind}/{photo_id}")
    def photo(request: Request, kind: str, photo_id: int) -> Response:
        _user(request)
        table = {"listing": "listing_photos", "gallery": "artefact_photos"}.get(kind)
        row = db.fetchone(f"SELECT stored_path FROM {table} WHERE id = %s", (photo_id,)) if table else None
        if row is None or not row["stored_path"]:
            return Response("no such photo", status_code=404, media_type="text/plain")
        rel = row["stored_path"]
        data = _stored(store, rel)
        if data is None:
            return Response("photo file missing from the store", status_code=404, media_type="text/plain")
        media = mimetypes.guess_type(rel.removesuffix(".gz"))[0] or "application/octet-stream"
        if not media.startswith("image/") or media == "image/svg+xml":
            media = "application/octet-stream"  # never let a stored file run as a document
        return Response(data, media_type=media, headers={"Cache-Control": "private, max-age=86400"})

    return app


def _stored(store: BlobStore, rel: str) -> bytes | None:
    """The blob at ``rel`` (un-gzipped), or None when it is missing or outside the store."""
    root = store.root.resolve()
    if not rel or not (root / file_of(rel)).resolve().is_relative_to(root):
        return None
    try:
        return store.read(rel)
    except OSError:
        return None


def _best_photo(db: Database, item_id: int) -> dict | None:
    """The alerted artefact's best-scoring stored listing photo (the item's best match first)."""
    return db.fetchone(
        """SELECT p.id, p.sha256, p.stored_path
             FROM review_items r
             JOIN listing_photo_links k ON k.listing_id = r.listing_id
             JOIN listing_photos p ON p.id = k.photo_id
             LEFT JOIN matches m ON m.photo_id = p.id AND m.artefact_id = r.artefact_id
            WHERE r.id = %s AND p.stored_path IS NOT NULL AND p.stored_path <> '' AND p.status <> 'rejected'
            ORDER BY (m.id = r.best_match_id) IS TRUE DESC, m.score DESC NULLS LAST, k.position, p.id
            LIMIT 1""",
        (item_id,),
    )


def _load_classifier(checkpoint: Path) -> Any:
    from lootwatch.models.classifier import load_classifier

    return load_classifier(checkpoint)


def _saliency_png(clf: Any, image: Any) -> bytes:
    import io

    from lootwatch.models.classifier_saliency import saliency_overlay

    buf = io.BytesIO()
    saliency_overlay(clf, image).save(buf, "PNG")
    return buf.getvalue()


def _actions_for(state: str, role: str) -> list[str]:
    # escalation hands an item to a senior: only an admin settles an escalated item
    if state == "escalated" and role != "admin":
        return []
    return allowed_actions(state)


def _csrf(request: Request) -> str:
    token = request.session.get("csrf")
    if not isinstance(token, str):
        token = secrets.token_urlsafe(32)
        request.session["csrf"] = token
    return token


def _csrf_ok(request: Request, sent: str) -> bool:
    token = request.session.get("csrf")
    return isinstance(token, str) and bool(sent) and hmac.compare_digest(token, sent)


def _local(target: str) -> str:
    # only same-site paths: "next" must never send someone to another host after login
    return target if target.startswith("/") and not target.startswith(("//", "/\\")) else "/alerts"


def _http_url(url: str) -> str | None:
    return url if url.lower().startswith(("http://", "https://")) else None


def _day(text: str, *, next_day: bool = False) -> datetime | None:
    if not text:
        return None
    day = date.fromisoformat(text) + (timedelta(days=1) if next_day else timedelta())
    return datetime.combine(day, time(), tzinfo=UTC)
