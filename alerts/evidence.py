"""The evidence bundle of one review item: a ZIP a museum or the police can archive and check.

Contents::

    manifest.json                          item, artefact, listings, matches (scores, model and
                                           index versions), decisions, and the sha256 of every file
    SHA256SUMS                             the same hashes, for ``sha256sum -c``
    listings/<id>/page-<snapshot id>.html  page snapshots as fetched (alerted listing and relistings)
    listings/<id>/photo-<pos>-<photo id>.* listing photos as fetched
    gallery/<artefact photo id>.*          the gallery photos the matches point at

The same database rows and stored files give the same bytes: entries are sorted, ZIP time stamps
and permissions fixed, JSON keys sorted, times written in UTC. So two exports can be compared by
hash, and a bundle handed over today can be shown later to be unchanged.
"""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import PurePosixPath
from typing import Any

from lootwatch.core.db import Database
from lootwatch.core.errors import NotFoundError
from lootwatch.core.storage import BlobStore, file_of

FORMAT = 1
_ZIP_TIME = (1980, 1, 1, 0, 0, 0)  # the earliest time a ZIP can hold: fixed, so bytes repeat

# url: the URL the crawler fetched; claimed_canonical_url: a rel=canonical the page named (the seller's
# claim, '' when none), kept apart and never the listing's link
_LISTING_FIELDS = (
    "id, url, claimed_canonical_url, item_id, title, description, price_text, amount, currency, seller, "
    "sale_date, status, first_seen, last_seen, content_hash"
)


def build_evidence_zip(db: Database, store: BlobStore, review_item_id: int) -> bytes:
    """The evidence ZIP of ``review_item_id`` as bytes (see the module doc for its layout)."""
    files: dict[str, bytes] = {}
    manifest = _manifest(db, store, review_item_id, files)
    manifest["files"] = {name: _sha(data) for name, data in sorted(files.items())}
    files["manifest.json"] = _json(manifest)
    files["SHA256SUMS"] = "".join(f"{_sha(d)}  {n}\n" for n, d in sorted(files.items())).encode()
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name in sorted(files):
            info = zipfile.ZipInfo(name, date_time=_ZIP_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.create_system = 3  # unix, whatever machine writes it
            info.external_attr = 0o644 << 16
            zf.writestr(info, files[name], compresslevel=6)
    return buf.getvalue()


def _manifest(db: Database, store: BlobStore, item_id: int, files: dict[str, bytes]) -> dict[str, Any]:
    item = db.fetchone(
        """SELECT id, listing_id, artefact_id, best_match_id, score, state, assignee, created_at, updated_at,
                  rule_evidence
           FROM review_items WHERE id = %s""",
        (item_id,),
    )
    if item is None:
        raise NotFoundError(f"review item {item_id} does not exist")
    artefact = db.fetchone(
        "SELECT id, title, collection, description, provenance, removed_at FROM artefacts WHERE id = %s",
        (item["artefact_id"],),
    )
    relistings = db.fetchall(
        "SELECT listing_id, shared_photo_id, score, created_at FROM alert_links WHERE review_item_id = %s "
        "ORDER BY listing_id",
        (item_id,),
    )
    listing_ids = [item["listing_id"], *[r["listing_id"] for r in relistings]]
    listings = [_listing(db, store, lid, files) for lid in listing_ids]
    listings[0]["role"] = "alerted"
    for entry, link in zip(listings[1:], relistings, strict=True):
        entry["role"] = "relisting"
        entry["link"] = {k: link[k] for k in ("shared_photo_id", "score", "created_at")}

    matches = db.fetchall(
        """SELECT DISTINCT m.id, m.photo_id, m.artefact_id, m.rank, m.score, m.scores,
                  m.best_gallery_photo_id, m.model_version, m.index_version, m.created_at
           FROM matches m JOIN listing_photo_links k ON k.photo_id = m.photo_id
           WHERE k.listing_id = ANY(%s) AND m.artefact_id = %s
           ORDER BY m.score DESC, m.id""",
        (listing_ids, item["artefact_id"]),
    )
    gallery_ids = sorted({m["best_gallery_photo_id"] for m in matches} - {None})
    gallery = []
    for g in db.fetchall(
        "SELECT id, artefact_id, sha256, stored_path, source_name, width, height FROM artefact_photos "
        "WHERE id = ANY(%s) ORDER BY id",
        (gallery_ids,),
    ):
        entry = {k: g[k] for k in ("id", "artefact_id", "sha256", "source_name", "width", "height")}
        entry |= _add_blob(store, g["stored_path"], f"gallery/{g['id']}", g["sha256"], files)
        gallery.append(entry)
    decisions = db.fetchall(
        "SELECT id, actor, from_state, to_state, comment, decided_at FROM decisions "
        "WHERE review_item_id = %s ORDER BY decided_at, id",
        (item_id,),
    )
    return {
        "format": FORMAT,
        "review_item": dict(item),
        "artefact": dict(artefact) if artefact else None,
        "listings": listings,
        "gallery_photos": gallery,
        "matches": [dict(m) for m in matches],
        "model_versions": sorted({m["model_version"] for m in matches}),
        "index_versions": sorted({m["index_version"] for m in matches}),
        "decisions": [dict(d) for d in decisions],
    }


def _listing(db: Database, store: BlobStore, listing_id: int, files: dict[str, bytes]) -> dict[str, Any]:
    row = db.fetchone(
        f"""SELECT {", ".join("l." + f.strip() for f in _LISTING_FIELDS.split(","))}, s.name AS site
            FROM listings l JOIN sources s ON s.id = l.source_id WHERE l.id = %s""",
        (listing_id,),
    )
    assert row is not None  # review_items and alert_links reference it
    entry: dict[str, Any] = dict(row)
    folder = f"listings/{listing_id}"
    snapshots = []
    for s in db.fetchall(
        "SELECT id, url, sha256, stored_path, http_status, fetched_at FROM page_snapshots "
        "WHERE listing_id = %s ORDER BY fetched_at, id",
        (listing_id,),
    ):
        snap = {k: s[k] for k in ("id", "url", "sha256", "http_status", "fetched_at")}
        snap |= _add_blob(store, s["stored_path"], f"{folder}/page-{s['id']}", s["sha256"], files)
        snapshots.append(snap)
    photos = []
    for p in db.fetchall(
        """SELECT p.id, p.sha256, p.source_url, p.phash, p.stored_path, p.bytes, p.width, p.height, p.status,
                  p.reason, p.fetched_at, k.position, k.first_seen
           FROM listing_photo_links k JOIN listing_photos p ON p.id = k.photo_id
           WHERE k.listing_id = %s ORDER BY k.position, p.id""",
        (listing_id,),
    ):
        photo = {k: p[k] for k in p if k != "stored_path"}
        stem = f"{folder}/photo-{p['position']}-{p['id']}"
        photo |= _add_blob(store, p["stored_path"], stem, p["sha256"], files)
        photos.append(photo)
    entry["snapshots"] = snapshots
    entry["photos"] = photos
    return entry


def _add_blob(store: BlobStore, rel: str, stem: str, recorded_sha: str, files: dict[str, bytes]) -> dict[str, Any]:
    """Put a stored blob into the bundle; say where, and whether it still has its recorded hash."""
    if not rel:
        return {"file": None, "missing": "never stored"}
    try:
        data = store.read(rel)  # gzipped pages come back as the body fetched
    except OSError as exc:
        return {"file": None, "missing": f"not in the store: {exc.strerror or exc}"}
    file = file_of(rel)  # a record of the crawl's WARC file is a fetched page
    suffixes = [".html"] if file.endswith(".warc.gz") else [s for s in PurePosixPath(file).suffixes if s != ".gz"]
    name = stem + (suffixes[-1] if suffixes else "")
    files[name] = data
    return {"file": name, "sha256_matches": _sha(data) == recorded_sha}


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return (value.astimezone(UTC) if value.tzinfo else value).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError(f"not JSON-serialisable: {type(value).__name__}")


def _json(obj: Any) -> bytes:
    return (json.dumps(obj, default=_plain, sort_keys=True, indent=1, ensure_ascii=False) + "\n").encode()
