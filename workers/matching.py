"""Match queued listing photos against the gallery and open review items, exactly once.

Postgres is the source of truth, not the queue: a job locks its own photo row, claims up to a batch
of other queued photos with ``SKIP LOCKED``, embeds them in one forward pass, and writes matches,
review items and their notices in the SAME transaction that marks the photos matched. A worker
killed mid-batch rolls the transaction back, so the photos are queued again and no half-written
alert or notice survives; a job whose photo another batch already matched is a no-op.

A job then keeps draining the queue in batches (up to ``DRAIN_BUDGET_S``, or until a warm
shutdown), pipelined so that the model does not wait: while the forward pass of batch k runs on the
job's thread (torch releases the GIL), a helper thread commits batch k-1 and claims, reads, decodes
and preprocesses batch k+1, each batch in its own transaction. Rows are claimed ``FOR NO KEY
UPDATE``: it excludes other claims exactly as ``FOR UPDATE`` does, but lets the writes of batch
k-1 reference (by foreign key) a photo that batch k+1 holds, so the pipeline cannot lock itself.
A job whose own photo another batch holds drains the rest first, then waits for its photo.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from lootwatch.alerts.rules import decide_alerts
from lootwatch.matcher.classifier_store import classifier_root
from lootwatch.workers.context import WorkerContext
from lootwatch.workers.engine import Hit

from lootwatch.core.db import Conn, connect
from lootwatch.core.errors import BadInputError
from lootwatch.core.images import vet_image
from lootwatch.core.metrics import BATCH_SIZE

if TYPE_CHECKING:
    import torch
    from PIL import Image

log = logging.getLogger(__name__)

# A job stops claiming new batches after this long (it finishes the one in flight): it keeps a job
# well under RQ's job timeout and lets other jobs of the queue start.
DRAIN_BUDGET_S = 30.0

_COLUMNS = "id, sha256, status, stored_path"
_OWN_SQL = f"SELECT {_COLUMNS} FROM listing_photos WHERE id = %s FOR NO KEY UPDATE"
_CLAIM_SQL = f"""SELECT {_COLUMNS} FROM listing_photos WHERE status = 'queued' AND id <> %s
                 ORDER BY id LIMIT %s FOR NO KEY UPDATE SKIP LOCKED"""

# told the sha256 (= RQ job id) of each committed batch's photos, whose own jobs are now no-ops;
# False when the queue is unreachable: the job then stops claiming (it could not be acknowledged)
OnCommit = Callable[[Sequence[str]], bool]


@dataclass
class BatchResult:
    photo_id: int
    status: str  # matched | rejected | already-matched | already-rejected | missing
    batch: int = 0  # photos in the job's first batch
    batches: int = 0  # batches the job committed (it drains the queue)
    matched: list[int] = field(default_factory=list)
    rejected: dict[int, str] = field(default_factory=dict)
    review_items: list[int] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {
            "photo_id": self.photo_id,
            "status": self.status,
            "batch": self.batch,
            "batches": self.batches,
            "matched": self.matched,
            "rejected": {str(k): v for k, v in self.rejected.items()},
            "review_items": self.review_items,
        }


@dataclass
class _Batch:
    """Photos claimed in one open transaction (on its own connection), read, vetted and preprocessed."""

    conn: Conn
    rows: list[Any]
    ready: list[int] = field(default_factory=list)
    images: list[Image.Image] = field(default_factory=list)
    phashes: list[str] = field(default_factory=list)  # of ``ready``: the crawler stores photos without one
    x: torch.Tensor | None = None
    prepared_for: Any = None  # the descriptor x was preprocessed for (an index reload may swap it)
    rejected: dict[int, str] = field(default_factory=dict)
    # set by the forward pass: what the commit records
    hits: list[list[Hit]] = field(default_factory=list)
    models_version: str = ""
    index_version: str = ""
    threshold: float = 0.0
    notify_threshold: float | None = None


def match_batch(ctx: WorkerContext, photo_id: int, on_commit: OnCommit | None = None) -> BatchResult:
    """Match ``photo_id`` and whatever else is queued, batch after batch (see the module doc)."""
    # the classifier versions live under this worker's settings (a no-op after the first batch)
    ctx.engine.follow_classifiers(classifier_root(ctx.settings))
    drain = _Drain(ctx, BatchResult(photo_id, "matched"), on_commit)
    own = drain.run(photo_id, wait_own=False)
    if own == "locked":  # another batch holds it: its outcome decides whether work is left
        own = drain.run(photo_id, wait_own=True)
    result = drain.result
    if own == "missing":
        result.status = "missing"
    elif own != "queued":
        result.status = f"already-{own}"
    elif photo_id in result.rejected:
        result.status = "rejected"
    return result


class _Drain:
    """One job's batches: claimed, scored and committed in a pipeline (see the module doc)."""

    def __init__(self, ctx: WorkerContext, result: BatchResult, on_commit: OnCommit | None) -> None:
        self.ctx, self.result, self.on_commit = ctx, result, on_commit
        self.live: list[_Batch] = []  # batches whose transaction is open: rolled back on any failure
        self.deadline = time.monotonic() + DRAIN_BUDGET_S
        self.queue_lost = False

    def run(self, photo_id: int, *, wait_own: bool) -> str:
        """Claim a first batch (with our own photo when it is ours to do), then pipeline the rest.

        Returns the own photo's state as found: queued (so we did it), matched, rejected, missing,
        or locked (another batch holds it; only when ``wait_own`` is False).
        """
        conn = self._begin()
        try:
            own, own_row = _lock_own(conn, photo_id, wait_own)
            first = self._claim(conn, own_row)
        except BaseException:
            conn.close()  # closing an open transaction rolls it back
            raise
        if first is None:
            conn.close()
            return own
        self.result.batch = self.result.batch or len(first.rows)
        try:
            self._pipeline(first)
        finally:
            for batch in self.live:
                batch.conn.close()
            self.live.clear()
        return own

    def _begin(self, conn: Conn | None = None) -> Conn:
        conn = conn or connect(self.ctx.db.url)
        try:
            conn.execute("SET LOCAL lock_timeout = '120s'")  # opens the transaction
        except BaseException:
            conn.close()
            raise
        return conn

    def _claim(self, conn: Conn, own_row: Any = None) -> _Batch | None:
        """Claim up to a batch of queued photos (beside ``own_row``) on ``conn`` and prepare them."""
        own = [own_row] if own_row is not None else []
        skip = own_row["id"] if own_row is not None else 0
        others = conn.execute(_CLAIM_SQL, (skip, max(0, self.ctx.settings.batch_size - len(own)))).fetchall()
        if not own and not others:
            return None
        batch = _Batch(conn, [*own, *others])
        _prepare(self.ctx, batch)
        self.live.append(batch)
        return batch

    def _pipeline(self, first: _Batch) -> None:
        """Forward batch k on this thread while a helper thread commits batch k-1 and claims k+1."""
        with ThreadPoolExecutor(1, thread_name_prefix="lootwatch-batch") as helper:
            current: _Batch | None = first
            scored: _Batch | None = None
            while current is not None:
                step: Future[_Batch | None] = helper.submit(self._commit_then_claim, scored)
                _score(self.ctx, current)
                scored = current
                current = step.result()
            if scored is not None:  # the last batch
                helper.submit(self._commit, scored).result().close()

    def _commit_then_claim(self, done: _Batch | None) -> _Batch | None:
        conn = self._commit(done) if done is not None else None
        if time.monotonic() >= self.deadline or self.ctx.stopping.is_set() or self.queue_lost:
            if conn is not None:
                conn.close()
            return None
        conn = self._begin(conn)  # the committed batch's connection serves the next claim
        try:
            batch = self._claim(conn)
        except BaseException:
            conn.close()
            raise
        if batch is None:
            conn.close()
        return batch

    def _commit(self, batch: _Batch) -> Conn:
        """Write a scored batch's outcome and commit it; returns its (now idle) connection."""
        items = _write(self.ctx, batch)
        batch.conn.commit()
        self.live.remove(batch)
        result = self.result
        result.batches += 1
        result.matched.extend(batch.ready)
        result.rejected.update(batch.rejected)
        result.review_items.extend(items)
        BATCH_SIZE.observe(len(batch.rows))
        log.info("batch matched", extra={"action": "match.batch", "photos": len(batch.rows), "alerts": len(items)})
        if self.on_commit is not None and not self.on_commit([row["sha256"] for row in batch.rows]):
            self.queue_lost = True
        return batch.conn


def _lock_own(conn: Conn, photo_id: int, wait: bool) -> tuple[str, Any]:
    """Lock our own photo row (waiting for it, or skipping it when another batch holds it)."""
    row = conn.execute(_OWN_SQL if wait else _OWN_SQL + " SKIP LOCKED", (photo_id,)).fetchone()
    if row is not None:
        return str(row["status"]), row if row["status"] == "queued" else None
    exists = conn.execute("SELECT 1 FROM listing_photos WHERE id = %s", (photo_id,)).fetchone()
    return ("locked" if exists else "missing"), None


def _prepare(ctx: WorkerContext, batch: _Batch) -> None:
    """Read, vet and decode the claimed photos (rejecting bad ones) and build the forward input."""
    s = ctx.settings
    side = ctx.engine.input_side
    for row in batch.rows:
        try:
            data = ctx.store.read(row["stored_path"])
            # the first full decode of a crawled photo (the crawler reads headers): a file that does not
            # decode is rejected here, its reason recorded. A large JPEG decodes at a reduced scale that
            # still covers the model input: 1200x900 photos cost 4.7 ms of CPU each here, not 13, beside
            # the forward pass (embeddings agree with a full-size decode at cosine >= 0.987)
            vetted = vet_image(data, max_bytes=s.max_photo_bytes, max_pixels=s.max_photo_pixels, min_side=side)
        except (OSError, BadInputError) as exc:
            batch.rejected[row["id"]] = str(exc)
            continue
        batch.images.append(vetted.image)
        batch.phashes.append(vetted.phash)
        batch.ready.append(row["id"])
    if batch.images:
        descriptor = ctx.engine.descriptor
        batch.x, batch.prepared_for = ctx.engine.prepare(batch.images), descriptor


def _score(ctx: WorkerContext, batch: _Batch) -> None:
    """The forward pass and the index search of one batch (on the job's thread)."""
    engine = ctx.engine
    engine.reload_if_changed()  # a new index version is used from the next batch on
    if batch.ready:
        x = batch.x if batch.prepared_for is engine.descriptor else None  # else preprocessed again
        # descriptor scores, or descriptor + classifier fused when a classifier is live
        batch.hits = engine.match(batch.images, x)
        batch.models_version, batch.index_version = engine.models_version, engine.index_version
        # on the scale of matches.score: the index's (cosine) or the classifier version's (fused)
        batch.threshold = engine.alert_threshold(ctx.settings)
        batch.notify_threshold = engine.notify_threshold(ctx.settings)
    batch.images, batch.x = [], None  # done with the pixels


def _write(ctx: WorkerContext, batch: _Batch) -> list[int]:
    """Matches, rejections, review items and notices of a scored batch, in its transaction."""
    conn = batch.conn
    # matched_at: when the outcome is written, not now() (the transaction began at the claim, while
    # the previous batch was still in its forward pass)
    if batch.rejected:
        with conn.cursor() as cur:
            cur.executemany(
                """UPDATE listing_photos SET status = 'rejected', reason = %s, matched_at = statement_timestamp()
                   WHERE id = %s""",
                [(reason, pid) for pid, reason in batch.rejected.items()],
            )
    if not batch.ready:
        return []
    _write_matches(conn, batch.ready, batch.hits, batch.models_version, batch.index_version)
    conn.execute(
        """UPDATE listing_photos p SET status = 'matched', matched_at = statement_timestamp(), phash = v.phash
           FROM unnest(%s::bigint[], %s::text[]) AS v(id, phash) WHERE p.id = v.id""",
        (batch.ready, batch.phashes),
    )
    # the alert rule (per-collection thresholds, agreeing evidence, relisting links) opens
    # review items and writes their notices on this connection, in this transaction
    return decide_alerts(
        conn,
        batch.ready,
        batch.index_version,
        ctx.settings,
        batch.threshold,
        store=ctx.store,
        notify_threshold=batch.notify_threshold,
    )


def _write_matches(conn: Conn, photo_ids: Sequence[int], hits: Sequence[Sequence[Hit]], model: str, index: str) -> None:
    # every hit of the batch in one statement over parallel arrays: one parse, plan and execution
    # on the server, where a row-per-statement executemany took one each (about 80 a batch)
    rows = [(photo_id, hit) for photo_id, photo_hits in zip(photo_ids, hits, strict=True) for hit in photo_hits]
    if not rows:
        return
    conn.execute(
        """INSERT INTO matches (photo_id, artefact_id, rank, score, scores, best_gallery_photo_id,
                                model_version, index_version)
           SELECT v.photo_id, v.artefact_id, v.rank, v.score, v.scores::jsonb, v.gallery_photo_id, %s, %s
           FROM unnest(%s::bigint[], %s::text[], %s::integer[], %s::float8[], %s::text[], %s::bigint[])
                WITH ORDINALITY AS v(photo_id, artefact_id, rank, score, scores, gallery_photo_id, n)
           ORDER BY v.n
           ON CONFLICT (photo_id, artefact_id, index_version) DO NOTHING""",
        (
            model,
            index,
            [photo_id for photo_id, _ in rows],
            [hit.artefact_id for _, hit in rows],
            [hit.rank for _, hit in rows],
            [hit.score for _, hit in rows],
            [json.dumps(hit.scores if hit.scores is not None else {"descriptor": hit.score}) for _, hit in rows],
            [hit.photo_id for _, hit in rows],
        ),
    )
