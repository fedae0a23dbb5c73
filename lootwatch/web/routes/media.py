"""Photos, thumbnails, page snapshots and the pictures drawn from them; all need a login."""

from __future__ import annotations

import mimetypes
from pathlib import Path
from typing import Literal

from fastapi import APIRouter, Depends
from fastapi.responses import Response
from PIL import Image

from lootwatch.core.errors import LootwatchError, user_errors
from lootwatch.core.files import atomic_write
from lootwatch.core.images import vet_image
from lootwatch.matcher.classifier_store import current_checkpoint, current_version
from lootwatch.matcher.geometry import geometric_check
from lootwatch.web.deps import Ctx, WebContext, current_user
from lootwatch.web.pictures import inlier_picture, saliency_png, thumbnail_jpeg
from lootwatch.web.stored import stored

router = APIRouter(dependencies=[Depends(current_user)])
CACHE = {"Cache-Control": "private, max-age=86400"}
_TABLES = {"listing": "listing_photos", "gallery": "artefact_photos"}


def _text(status: int, message: str) -> Response:
    return Response(message, status_code=status, media_type="text/plain")


def _photo_row(ctx: WebContext, kind: str, photo_id: int) -> dict | None:
    return ctx.db.fetchone(f"SELECT sha256, stored_path FROM {_TABLES[kind]} WHERE id = %s", (photo_id,))


@router.get("/photos/{kind}/{photo_id}")
def photo(ctx: Ctx, kind: Literal["listing", "gallery"], photo_id: int) -> Response:
    row = _photo_row(ctx, kind, photo_id)
    if row is None or not row["stored_path"]:
        return _text(404, "no such photo")
    rel = row["stored_path"]
    data = stored(ctx.store, rel)
    if data is None:
        return _text(404, "photo file missing from the store")
    media = mimetypes.guess_type(rel.removesuffix(".gz"))[0] or "application/octet-stream"
    if not media.startswith("image/") or media == "image/svg+xml":
        media = "application/octet-stream"  # never let a stored file run as a document
    return Response(data, media_type=media, headers=CACHE)


@router.get("/photos/{kind}/{photo_id}/thumb.jpg")
def thumb(ctx: Ctx, kind: Literal["listing", "gallery"], photo_id: int) -> Response:
    row = _photo_row(ctx, kind, photo_id)
    data = stored(ctx.store, row["stored_path"]) if row and row["stored_path"] else None
    if row is None or data is None:
        return _text(404, "no stored photo")
    cached = ctx.store.path(f"thumbs/{row['sha256'][:2]}/{row['sha256']}.jpg")
    if not cached.is_file():
        try:
            atomic_write(cached, thumbnail_jpeg(_vetted(ctx, data)), durable=False)  # a cache: rebuilt if lost
        except user_errors() as exc:
            return _text(404, f"no thumbnail: {exc}")
    return Response(cached.read_bytes(), media_type="image/jpeg", headers=CACHE)


def _vetted(ctx: WebContext, data: bytes) -> Image.Image:
    s = ctx.settings
    return vet_image(data, max_bytes=s.max_photo_bytes, max_pixels=s.max_photo_pixels).image


@router.get("/snapshots/{snapshot_id}")
def snapshot(ctx: Ctx, snapshot_id: int) -> Response:
    row = ctx.db.fetchone("SELECT stored_path FROM page_snapshots WHERE id = %s", (snapshot_id,))
    data = stored(ctx.store, row["stored_path"]) if row else None
    if data is None:
        return _text(404, "no such page snapshot (or its file is missing)")
    # the page is the seller's markup: shown as text in a sandbox, never parsed as a document
    return Response(
        data,
        media_type="text/plain; charset=utf-8",
        headers={"Content-Security-Policy": "sandbox", "X-Content-Type-Options": "nosniff", **CACHE},
    )


def _best_pair(ctx: WebContext, item_id: int) -> dict | None:
    """The item's best match: its listing photo and best gallery photo, with their files."""
    return ctx.db.fetchone(
        """SELECT p.sha256 AS photo_sha, p.stored_path AS photo_path,
                  g.sha256 AS gallery_sha, g.stored_path AS gallery_path
             FROM review_items r
             JOIN matches m ON m.id = r.best_match_id
             JOIN listing_photos p ON p.id = m.photo_id
             JOIN artefact_photos g ON g.id = m.best_gallery_photo_id
            WHERE r.id = %s""",
        (item_id,),
    )


@router.get("/alerts/{item_id}/geometry.png")
def geometry(ctx: Ctx, item_id: int) -> Response:
    """The ORB/RANSAC inlier pairs of the best match drawn between its two photos."""
    pair = _best_pair(ctx, item_id)
    if pair is None:
        return _text(404, "this alert has no best match with a gallery photo")
    query, reference = stored(ctx.store, pair["photo_path"] or ""), stored(ctx.store, pair["gallery_path"] or "")
    if query is None or reference is None:
        return _text(404, "a photo of the best match is not in the store")
    cached = ctx.store.path(f"geometry/{pair['photo_sha'][:2]}/{pair['photo_sha']}-{pair['gallery_sha']}.png")
    if not cached.is_file():
        check = geometric_check(query, reference)
        if not check.available:
            return _text(404, f"no geometry picture: {check.reason}")
        try:
            picture = inlier_picture(_vetted(ctx, query), _vetted(ctx, reference), list(check.pairs))
            atomic_write(cached, picture, durable=False)  # a cache: rebuilt if lost
        except (LootwatchError, OSError, ValueError) as exc:
            return _text(404, f"no geometry picture: {exc}")
    return Response(cached.read_bytes(), media_type="image/png", headers=CACHE)


@router.get("/alerts/{item_id}/saliency.png")
def saliency(ctx: Ctx, item_id: int) -> Response:
    checkpoint, version = current_checkpoint(ctx.settings), current_version(ctx.settings)
    if checkpoint is None or version is None:
        return _text(404, "no classifier trained yet: saliency needs the live classifier")
    photo = _best_photo(ctx, item_id)
    data = stored(ctx.store, photo["stored_path"]) if photo else None
    if photo is None or data is None:
        return _text(404, "no stored listing photo for this alert")
    cached = ctx.store.path(f"saliency/{photo['sha256'][:2]}/{photo['sha256']}-{version}.png")
    if not cached.is_file():
        try:
            clf = ctx.models.get(f"classifier:{version}") or _load_classifier(checkpoint)
            ctx.models[f"classifier:{version}"] = clf
            atomic_write(cached, saliency_png(clf, _vetted(ctx, data)), durable=False)  # a cache: rebuilt if lost
        except user_errors() as exc:
            return _text(404, f"no saliency for this photo: {exc}")
    return Response(cached.read_bytes(), media_type="image/png", headers=CACHE)


def _best_photo(ctx: WebContext, item_id: int) -> dict | None:
    """The alerted artefact's best-scoring stored listing photo (the item's best match first)."""
    return ctx.db.fetchone(
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


def _load_classifier(checkpoint: Path) -> object:
    # torch loads here, on the first saliency request, not when the app starts
    from lootwatch.models.classifier import load_classifier  # heavy import: torch

    return load_classifier(checkpoint)
