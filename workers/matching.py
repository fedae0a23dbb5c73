"""Match queued listing photos against the gallery and open review items, exactly once.

Postgres is the source of truth, not the queue: a job locks its own photo row, claims up to a batch
of other queued photos with ``SKIP LOCKED``, embeds them in one forward pass, and writes matches,
review items and their notices in the SAME transaction that marks the photos matched. A worker
killed mid-batch rolls the transaction back, so the photos are queued again and no half-written
alert or notice survives; a job whose photo another batch already matched is a no-op.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

from alerts.rules import decide_alerts
from lootwatch.db import Conn
from lootwatch.errors import BadInputError
from lootwatch.images import vet_image
from workers.context import WorkerContext
from workers.engine import Hit
from workers.retrain import classifier_root

log = logging.getLogger(__name__)


@dataclass
class BatchResult:
    photo_id: int
    status: str  # matched | already-matched | already-rejected | missing
    batch: int = 0
    matched: list[int] = field(default_factory=list)
    rejected: dict[int, str] = field(default_factory=dict)
    review_items: list[int] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {
            "photo_id": self.photo_id,
            "status": self.status,
            "batch": self.batch,
            "matched": self.matched,
            "rejected": {str(k): v for k, v in self.rejected.items()},
            "review_items": self.review_items,
        }


def match_batch(ctx: WorkerContext, photo_id: int) -> BatchResult:
    s = ctx.settings
    engine = ctx.engine
    # the classifier versions live under this worker's settings (a no-op after the first batch)
    engine.follow_classifiers(classifier_root(s))
    engine.reload_if_changed()
    with ctx.db.transaction() as conn:
        conn.execute("SET LOCAL lock_timeout = '120s'")
        # Wait for our own row: if another batch holds it, its outcome decides whether work is left.
        own = conn.execute(
            "SELECT id, status, stored_path FROM listing_photos WHERE id = %s FOR UPDATE", (photo_id,)
        ).fetchone()
        if own is None:
            return BatchResult(photo_id, "missing")
        if own["status"] != "queued":
            return BatchResult(photo_id, f"already-{own['status']}")
        others = conn.execute(
            """SELECT id, status, stored_path FROM listing_photos
               WHERE status = 'queued' AND id <> %s ORDER BY id LIMIT %s FOR UPDATE SKIP LOCKED""",
            (photo_id, max(0, s.batch_size - 1)),
        ).fetchall()
        rows = [own, *others]
        result = BatchResult(photo_id, "matched", batch=len(rows))

        ready, images = [], []
        for row in rows:
            try:
                data = ctx.store.read(row["stored_path"])
                images.append(
                    vet_image(data, max_bytes=s.max_photo_bytes, max_pixels=s.max_photo_pixels, with_phash=False).image
                )
                ready.append(row["id"])
            except (OSError, BadInputError) as exc:
                result.rejected[row["id"]] = str(exc)
        for pid, reason in result.rejected.items():
            conn.execute(
                """UPDATE listing_photos SET status = 'rejected', reason = %s, matched_at = now()
                   WHERE id = %s""",
                (reason, pid),
            )
        if ready:
            # descriptor scores, or descriptor + classifier fused when a classifier is live
            hits = engine.match(images)
            for pid, photo_hits in zip(ready, hits, strict=True):
                _write_matches(conn, pid, photo_hits, engine.models_version, engine.index_version)
            conn.execute(
                "UPDATE listing_photos SET status = 'matched', matched_at = now() WHERE id = ANY(%s)",
                (ready,),
            )
            result.matched = ready
            # on the scale of matches.score: the index's (cosine) or the classifier version's (fused)
            threshold = engine.alert_threshold(s)
            # the alert rule (per-collection thresholds, agreeing evidence, relisting links) opens
            # review items and writes their notices on this connection, in this transaction
            result.review_items = decide_alerts(conn, ready, engine.index_version, s, threshold, store=ctx.store)
        if result.rejected and photo_id in result.rejected:
            result.status = "rejected"
    log.info(
        "batch matched",
        extra={"action": "match.batch", "photos": len(rows), "alerts": len(result.review_items)},
    )
    return result


def _write_matches(conn: Conn, photo_id: int, hits: Sequence[Hit], model: str, index: str) -> None:
    # one round trip for all the photo's hits (pipelined by psycopg), not one per hit
    with conn.cursor() as cur:
        cur.executemany(
            """INSERT INTO matches (photo_id, artefact_id, rank, score, scores, best_gallery_photo_id,
                                    model_version, index_version)
               VALUES (%s, %s, %s, %s, %s, %s, %s, %s)
               ON CONFLICT (photo_id, artefact_id, index_version) DO NOTHING""",
            [
                (
                    photo_id,
                    hit.artefact_id,
                    hit.rank,
                    hit.score,
                    json.dumps(hit.scores if hit.scores is not None else {"descriptor": hit.score}),
                    hit.photo_id,
                    model,
                    index,
                )
                for hit in hits
            ],
        )
