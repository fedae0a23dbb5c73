"""The alert rule: which (listing, artefact) pairs become review items.

A pair opens an item when

1. one of the listing's photos ranks the artefact within its top ``top_k`` artefacts with a fused
   score at or above the artefact's collection threshold (``collection_thresholds``, else the
   global / calibrated one), and
2. there is agreeing evidence: at least ``min_agreeing_photos`` distinct photos of the listing
   pass (1), OR the local features of the best listing photo and its best gallery photo agree
   geometrically (``matcher.geometry``: ORB keypoints + RANSAC homography with ``min_inliers`` inliers).

One item per (listing, artefact). A relisted object, a listing sharing a photo with an earlier
listing that already has an item (or a link) for the artefact, is linked to that item in
``alert_links`` instead of opening a second one: the analyst already has that object in front of
them, and a second notice would be noise.

:func:`decide_alerts` runs in the worker's transaction and writes items and their notices there.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from itertools import groupby
from typing import Any

from lootwatch.alerts.outbox import enqueue_notices
from lootwatch.matcher.geometry import GeometryResult, geometric_check
from psycopg.types.json import Jsonb

from lootwatch.core.db import Conn
from lootwatch.core.errors import ConfigError
from lootwatch.core.settings import Settings
from lootwatch.core.storage import BlobStore

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class AlertRules:
    threshold: float  # global / calibrated threshold on the fused score
    collection_thresholds: Mapping[str, float] = field(default_factory=dict)
    top_k: int = 1
    min_agreeing_photos: int = 1
    geometric_check: bool = True
    min_inliers: int = 12

    def threshold_for(self, collection: str) -> float:
        return float(self.collection_thresholds.get(collection, self.threshold))

    @classmethod
    def from_settings(cls, settings: Settings, threshold: float) -> AlertRules:
        # getattr: the fields below are declared in lootwatch.core.settings; defaults keep older
        # settings objects (and their tests) working with the historical rule
        rules = cls(
            threshold=threshold,
            collection_thresholds=dict(getattr(settings, "collection_thresholds", None) or {}),
            top_k=int(getattr(settings, "alert_top_k", 1)),
            min_agreeing_photos=int(getattr(settings, "alert_min_agreeing_photos", 1)),
            geometric_check=bool(getattr(settings, "alert_geometric_check", True)),
            min_inliers=int(getattr(settings, "alert_min_inliers", 12)),
        )
        rules.validate()
        return rules

    def validate(self) -> None:
        if self.top_k < 1:
            raise ConfigError(f"alert_top_k must be at least 1, got {self.top_k}")
        if self.min_agreeing_photos < 1:
            raise ConfigError(f"alert_min_agreeing_photos must be at least 1, got {self.min_agreeing_photos}")
        if self.min_inliers < 4:
            raise ConfigError(f"alert_min_inliers must be at least 4 (a homography needs 4), got {self.min_inliers}")


# ---- the rule ----------------------------------------------------------------------------

_CANDIDATES_SQL = """
WITH touched AS (
    SELECT DISTINCT listing_id FROM listing_photo_links WHERE photo_id = ANY(%(photos)s)
), latest AS (
    -- one match per (listing, photo, artefact): the given index version's, else the newest
    SELECT DISTINCT ON (k.listing_id, m.photo_id, m.artefact_id)
           k.listing_id, m.id AS match_id, m.photo_id, m.artefact_id, m.rank, m.score,
           m.best_gallery_photo_id
    FROM touched t
    JOIN listing_photo_links k ON k.listing_id = t.listing_id
    JOIN matches m ON m.photo_id = k.photo_id
    ORDER BY k.listing_id, m.photo_id, m.artefact_id, (m.index_version = %(version)s) DESC,
             m.created_at DESC, m.id DESC
)
SELECT l.*, a.collection
FROM latest l JOIN artefacts a ON a.id = l.artefact_id AND a.removed_at IS NULL
WHERE l.rank <= %(top_k)s
ORDER BY l.listing_id, l.artefact_id, l.score DESC, l.photo_id
"""

# an earlier alert for the artefact on a listing that shares a photo with this one
_RELISTED_SQL = """
SELECT r.id, k1.photo_id
FROM listing_photo_links k1
JOIN listing_photo_links k2 ON k2.photo_id = k1.photo_id AND k2.listing_id <> k1.listing_id
JOIN (
    SELECT id, listing_id FROM review_items WHERE artefact_id = %(artefact)s
    UNION ALL
    SELECT al.review_item_id, al.listing_id FROM alert_links al
    JOIN review_items r2 ON r2.id = al.review_item_id AND r2.artefact_id = %(artefact)s
) r ON r.listing_id = k2.listing_id
WHERE k1.listing_id = %(listing)s
ORDER BY r.id LIMIT 1
"""


def decide_alerts(
    conn: Conn,
    photo_ids: Sequence[int],
    index_version: str,
    settings: Settings,
    threshold: float,
    *,
    store: BlobStore | None = None,
    rules: AlertRules | None = None,
    notify_threshold: float | None = None,
) -> list[int]:
    """Apply the rule to every listing showing one of ``photo_ids``, on ``conn`` (the caller's
    transaction): open review items with their notices, link relistings, raise the score of
    existing items. Returns the ids of the items opened now.

    ``threshold`` is the global one (settings or the index's calibration); ``rules`` overrides
    what is otherwise read from ``settings``. ``notify_threshold``: only items scoring at least this
    (and their collection's threshold) send notices; the others wait in the queue. None: every item.
    """
    rules = rules or AlertRules.from_settings(settings, threshold)
    store = store or BlobStore(settings.store_dir)
    rows = conn.execute(
        _CANDIDATES_SQL, {"photos": list(photo_ids), "version": index_version, "top_k": rules.top_k}
    ).fetchall()
    opened: list[int] = []
    for (listing_id, artefact_id), group in groupby(rows, key=lambda r: (r["listing_id"], r["artefact_id"])):
        matches = list(group)  # best first
        thr = rules.threshold_for(matches[0]["collection"])
        agreeing = [m for m in matches if m["score"] >= thr]
        if not agreeing:
            continue
        best = agreeing[0]
        if _raise_existing(conn, listing_id, artefact_id, best["score"]):
            continue
        relisted = conn.execute(_RELISTED_SQL, {"artefact": artefact_id, "listing": listing_id}).fetchone()
        if relisted is not None:
            conn.execute(
                """INSERT INTO alert_links (review_item_id, listing_id, shared_photo_id, score)
                   VALUES (%s, %s, %s, %s) ON CONFLICT DO NOTHING""",
                (relisted["id"], listing_id, relisted["photo_id"], best["score"]),
            )
            log.info("relisting linked", extra={"action": "alert.link", "review_item": relisted["id"]})
            continue
        evidence = _evidence(conn, store, rules, thr, matches[0]["collection"], agreeing)
        if evidence is None:
            continue
        notify = notify_threshold is None or best["score"] >= max(notify_threshold, thr)
        evidence["notify_threshold"] = notify_threshold
        evidence["notified"] = notify
        row = conn.execute(
            """INSERT INTO review_items (listing_id, artefact_id, best_match_id, score, rule_evidence)
               VALUES (%s, %s, %s, %s, %s) ON CONFLICT (listing_id, artefact_id) DO NOTHING RETURNING id""",
            (listing_id, artefact_id, best["match_id"], best["score"], Jsonb(evidence)),
        ).fetchone()
        if row is not None:
            if notify:
                # enqueue_notices is annotated for tuple rows; it only reads columns by name
                enqueue_notices(conn, row["id"], settings)  # type: ignore[arg-type]
            opened.append(row["id"])
    return opened


def _raise_existing(conn: Conn, listing_id: int, artefact_id: str, score: float) -> bool:
    """Keep the best score on an existing item or relisting link; True when one exists."""
    item = conn.execute(
        """UPDATE review_items SET score = GREATEST(score, %s), updated_at = now()
           WHERE listing_id = %s AND artefact_id = %s RETURNING id""",
        (score, listing_id, artefact_id),
    ).fetchone()
    if item is not None:
        return True
    link = conn.execute(
        """UPDATE alert_links al SET score = GREATEST(al.score, %s) FROM review_items r
           WHERE al.listing_id = %s AND r.id = al.review_item_id AND r.artefact_id = %s
           RETURNING al.listing_id""",
        (score, listing_id, artefact_id),
    ).fetchone()
    return link is not None


def _evidence(
    conn: Conn, store: BlobStore, rules: AlertRules, thr: float, collection: str, agreeing: list[Any]
) -> dict[str, Any] | None:
    """What makes the pair alert-worthy, or None when the evidence falls short of the rule."""
    best = agreeing[0]
    photos = sorted({int(m["photo_id"]) for m in agreeing})
    evidence: dict[str, Any] = {
        "threshold": thr,
        "collection": collection,
        "top_k": rules.top_k,
        "agreeing_photo_ids": photos,
        "min_agreeing_photos": rules.min_agreeing_photos,
        "best_photo_id": int(best["photo_id"]),
        "best_gallery_photo_id": best["best_gallery_photo_id"],
        "geometry": None,
    }
    if len(photos) >= rules.min_agreeing_photos:
        evidence["passed_by"] = "photos"
        return evidence
    if not rules.geometric_check or best["best_gallery_photo_id"] is None:
        return None
    geometry = _check_pair(conn, store, int(best["photo_id"]), int(best["best_gallery_photo_id"]), rules.min_inliers)
    evidence["geometry"] = geometry.to_dict() | {"min_inliers": rules.min_inliers}
    if not geometry.passed:
        log.info(
            "alert held back: evidence short of the rule",
            extra={"action": "alert.hold", "photo": best["photo_id"], "inliers": geometry.inliers},
        )
        return None
    evidence["passed_by"] = "geometry"
    return evidence


def _check_pair(conn: Conn, store: BlobStore, photo_id: int, gallery_photo_id: int, min_inliers: int) -> GeometryResult:
    paths = conn.execute(
        """SELECT (SELECT stored_path FROM listing_photos WHERE id = %s) AS photo,
                  (SELECT stored_path FROM artefact_photos WHERE id = %s) AS gallery""",
        (photo_id, gallery_photo_id),
    ).fetchone()
    if paths is None or not paths["photo"] or not paths["gallery"]:
        return GeometryResult(False, reason="photo not stored")
    try:
        query, reference = store.read(paths["photo"]), store.read(paths["gallery"])
    except OSError as exc:
        return GeometryResult(False, reason=f"photo not readable: {exc}")
    return geometric_check(query, reference, min_inliers)
