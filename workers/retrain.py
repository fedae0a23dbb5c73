"""Retraining the instance classifier when the gallery changes (an RQ job).

Versions live under ``settings.checkpoints_dir/classifier/``::

    classifier/
      CURRENT                       the live version's name (replaced atomically)
      <version>/classifier.pt       checkpoint (card, state_dict, classes)
      <version>/classifier-2.pt ... further members when ``classifier_backbones`` names several: an
                                    ensemble whose calibrated softmax is averaged (one version)
      <version>/card.json           its model card, plus why and from what it was trained
      <version>/fusion.json         the fused alert threshold for the worker's descriptor (below)

A training runs in a private staging folder; only a finished, loadable checkpoint is renamed to
its version folder, and only then does CURRENT move (write-then-rename). Matching keeps reading
the previous CURRENT the whole time, and a failed training leaves it untouched.

Fused alert threshold (``calibrate_fusion``), on the gallery alone, by the rule the index uses for
the descriptor (:mod:`matcher.threshold`): re-staged copies of the gallery photos are the queries;
each is scored against every artefact exactly as the worker scores a listing photo (descriptor
cosine with the query's own source photo left out -> calibrated ``q``; classifier ``p``; fused with
``matcher.fusion.fuse``, logit pool w = 0.5). genuine = the fused score of the query's own artefact
(artefacts with another photo), impostor = its best fused score among the other artefacts, with
the classifier's softmax renormalised over those other artefacts: the query's object plays an
UNPROTECTED one, which a closed-set classifier forces into some protected class (the descriptor
side is its cosine to the other artefacts' photos, as in :mod:`matcher.threshold`). Without the
renormalisation a classifier trained on these very photos would give the other artefacts ~0 and
the threshold would say nothing about unknown objects. ``threshold = quantile(impostor, 0.95)``,
capped at ``quantile(genuine, 0.5)``. Caveat: the classifier was trained on these photos
(re-staged differently), so its genuine scores are optimistic.

Idempotent: the gallery's identity (every live artefact and photo sha256) plus the training
settings are recorded in the card; a job that finds them equal to CURRENT's does nothing.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import uuid
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from lootwatch.models.classifier_data import GalleryPhoto

from lootwatch.core.db import Database
from lootwatch.core.errors import LootwatchError
from lootwatch.core.settings import Settings
from lootwatch.core.storage import BlobStore

if TYPE_CHECKING:
    from lootwatch.models.classifier import Ensemble, LoadedClassifier

log = logging.getLogger(__name__)

JOB = "lootwatch.workers.retrain.retrain_classifier"
JOB_ID = "retrain-classifier"
CHECKPOINT = "classifier.pt"
CARD = "card.json"
FUSION_FILE = "fusion.json"  # read by workers.engine (same name there)


class RetrainError(LootwatchError):
    """The gallery cannot train a classifier (too few artefacts or photos)."""


def classifier_root(settings: Settings) -> Path:
    return settings.checkpoints_dir / "classifier"


def gallery_photos(db: Database, store: BlobStore) -> list[GalleryPhoto]:
    """Photos of every artefact still on the watch list, read from Postgres + the blob store."""
    rows = db.fetchall(
        """SELECT p.artefact_id, p.sha256, p.stored_path, a.collection
             FROM artefact_photos p JOIN artefacts a ON a.id = p.artefact_id
            WHERE a.removed_at IS NULL
            ORDER BY p.artefact_id, p.id"""
    )
    photos = []
    for r in rows:
        path = store.path(r["stored_path"])
        if r["stored_path"].endswith(".gz") or not path.is_file():
            raise RetrainError(f"gallery photo {r['stored_path']} of {r['artefact_id']} is missing from the store")
        photos.append(GalleryPhoto(path, r["artefact_id"], r["collection"] or ""))
    return photos


def current_version(settings: Settings) -> str | None:
    pointer = classifier_root(settings) / "CURRENT"
    if not pointer.is_file():
        return None
    name = pointer.read_text().strip()
    return name if name and (classifier_root(settings) / name / CHECKPOINT).is_file() else None


def current_checkpoint(settings: Settings) -> Path | None:
    """The live classifier checkpoint (its first member for an ensemble), or None before the first training."""
    version = current_version(settings)
    return classifier_root(settings) / version / CHECKPOINT if version else None


def member_checkpoints(folder: Path) -> list[Path]:
    """A published version's checkpoints: ``classifier.pt``, then ``classifier-2.pt``, ``classifier-3.pt``..."""
    paths = [folder / CHECKPOINT]
    n = 2
    while (folder / _member_name(n)).is_file():
        paths.append(folder / _member_name(n))
        n += 1
    return paths


def _member_name(n: int) -> str:
    return CHECKPOINT if n == 1 else f"classifier-{n}.pt"


def load_published(folder: Path, device: str = "cpu") -> LoadedClassifier | Ensemble:
    """The classifier a version folder holds: one checkpoint, or the ensemble of its members."""
    from lootwatch.models.classifier import load_classifiers

    return load_classifiers(member_checkpoints(folder), device)


@dataclass
class RetrainResult:
    status: str  # "published" or "unchanged"
    version: str
    reason: str
    classes: int
    excluded: dict[str, int]
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def retrain(
    settings: Settings,
    db: Database,
    reason: str,
    *,
    epochs: int | None = None,
    input_size: int | None = None,
    views: int | None = None,
    pretrained: bool = True,
) -> RetrainResult:
    """Train on the Postgres gallery and publish a new version, unless CURRENT already is that.

    One classifier per ``settings.classifier_backbones`` (several: an ensemble, published as one version)."""
    from lootwatch.models.classifier import members_of
    from lootwatch.models.classifier_data import select_artefacts
    from lootwatch.models.classifier_train import TrainConfig, benchmark_config, train_classifier
    from lootwatch.models.errors import ModelError

    photos = gallery_photos(db, BlobStore(settings.store_dir))
    overrides: dict[str, Any] = {"pretrained": pretrained, "name": "classifier"}
    if epochs is not None:
        overrides.update(epochs=epochs)
    if input_size is not None:
        overrides.update(input_size=(input_size, input_size))
    if views is not None:
        overrides.update(views_per_photo=views, val_views_per_photo=max(1, views))
    configs = [benchmark_config(**overrides, backbone=b) for b in settings.classifier_backbones]
    try:
        ts = select_artefacts(photos, configs[0].min_images)
    except ModelError as exc:
        raise RetrainError(f"cannot retrain the classifier: {exc}") from exc
    data_sha = ts.sha256()

    root = classifier_root(settings)
    live = current_version(settings)
    if live is not None:
        cards = [m.card for m in members_of(load_published(root / live))]
        same_config = [TrainConfig.recorded(c.extra.get("config")) for c in cards] == [
            TrainConfig.recorded(cfg) for cfg in configs
        ]
        if all(c.training_data_sha256 == data_sha for c in cards) and same_config:
            log.info("classifier %s already trained on this gallery; nothing to do (%s)", live, reason)
            return RetrainResult("unchanged", live, reason, len(ts.classes), ts.excluded)

    staging = root / f".staging-{uuid.uuid4().hex[:12]}"
    staging.mkdir(parents=True)
    seconds = 0.0
    try:
        for n, cfg in enumerate(configs, start=1):
            log.info("training classifier member %d/%d (%s)", n, len(configs), cfg.backbone)
            try:
                result = train_classifier(ts.photos, staging / _member_name(n), cfg, say=log.info, progress=False)
            except ModelError as exc:  # e.g. an unknown backbone in classifier_backbones
                raise RetrainError(f"cannot train classifier member {cfg.backbone}: {exc}") from exc
            seconds += result.seconds
        clf = load_published(staging)  # only loadable checkpoints are published
        version = clf.version
        fusion = calibrate_fusion(settings, clf, photos)
        (staging / FUSION_FILE).write_text(json.dumps(fusion, indent=1))
        members = members_of(clf)
        card_doc = {
            **members[0].card.to_dict(),
            "version": version,
            "reason": reason,
            "previous": live,
            "classes": clf.classes,
            "members": [m.card.version for m in members],
        }
        (staging / CARD).write_text(json.dumps(card_doc, indent=1, default=str))
        final = root / version
        if final.exists():  # the same weights published before (deterministic training): reuse it
            shutil.rmtree(staging)
        else:
            os.replace(staging, final)
        _point_current(root, version)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    log.info("classifier %s published (%s), previous %s", version, reason, live)
    return RetrainResult("published", version, reason, len(ts.classes), ts.excluded, seconds)


def calibrate_fusion(
    settings: Settings,
    clf: LoadedClassifier | Ensemble,
    photos: Sequence[GalleryPhoto],
    *,
    rule: str = "logit",  # matcher.fusion.DEFAULT_RULE / DEFAULT_WEIGHT, not imported at module load
    weight: float = 0.5,
) -> dict[str, Any]:
    """The fused alert threshold for ``clf`` + the worker's descriptor, from gallery photos only."""
    from lootwatch.matcher.fusion import calibrate_descriptor
    from lootwatch.matcher.index import embed_images
    from lootwatch.matcher.store import live_descriptor_spec, live_views
    from lootwatch.matcher.threshold import ScoreStats, restage_queries, threshold_from_scores
    from lootwatch.matcher.views import embed_views
    from lootwatch.models.descriptor import load_descriptor
    from lootwatch.workers.engine import classifier_columns, fused_matrix

    from lootwatch.core.images import vet_image

    # the live index's descriptor (its own when the index was built with a gallery fine-tune)
    descriptor = load_descriptor(live_descriptor_spec(settings.index_dir, settings.descriptor))
    images = [
        vet_image(
            p.path.read_bytes(),
            max_bytes=settings.max_photo_bytes,
            max_pixels=settings.max_photo_pixels,
            with_phash=False,
        ).image
        for p in photos
    ]
    ids = [p.artefact_id for p in photos]
    vectors = embed_views(descriptor, images, live_views(settings.index_dir))  # as the live index holds them
    cal = calibrate_descriptor(vectors, ids)  # what the worker fits on the index built from these photos
    queries, sources = restage_queries(images)

    classes = sorted(set(ids))
    label = np.array([classes.index(a) for a in ids])
    sims = embed_images(descriptor, queries) @ vectors.T
    sims[np.arange(len(sources)), sources] = -np.inf  # never the photo a query was made from
    cosine = np.full((len(queries), len(classes)), -np.inf, dtype=np.float32)
    for j in range(len(classes)):
        cosine[:, j] = sims[:, label == j].max(axis=1)
    has_other = np.isfinite(cosine[np.arange(len(sources)), label[sources]])
    q = cal(np.where(np.isfinite(cosine), cosine, -1.0))  # -1: no photo, as the worker scores it
    p, known = classifier_columns(clf, clf.predict_proba(queries), classes)
    fused = fused_matrix(p, q, known, rule, weight)

    rows, own = np.arange(len(sources)), label[sources]
    genuine = fused[rows, own][has_other]
    # impostor: the query's object as if it were NOT protected -- the classifier's softmax over the
    # other artefacts only (renormalised), i.e. an unknown object forced into a protected class
    unknown_p = p.copy()
    unknown_p[rows, own] = 0.0
    unknown_p /= np.maximum(unknown_p.sum(axis=1, keepdims=True), 1e-12)
    others = fused_matrix(unknown_p, q, known, rule, weight)
    others[rows, own] = -np.inf
    impostor = others.max(axis=1) if len(classes) > 1 else np.zeros(0, np.float32)
    threshold, how = threshold_from_scores(genuine, impostor)
    return {
        "descriptor": str(descriptor.card.version),
        "classifier": clf.version,
        "rule": rule,
        "weight": weight,
        "threshold": threshold,
        "threshold_rule": how,
        "queries": "restaged gallery photos",
        "n_queries": len(queries),
        "genuine": asdict(ScoreStats.of(genuine)),
        "impostor": asdict(ScoreStats.of(impostor)),
        "descriptor_logistic": cal.to_dict(),
    }


def _point_current(root: Path, version: str) -> None:
    tmp = root / f".CURRENT-{uuid.uuid4().hex[:8]}"
    tmp.write_text(version + "\n")
    os.replace(tmp, root / "CURRENT")


def retrain_classifier(
    reason: str, epochs: int | None = None, input_size: int | None = None, views: int | None = None
) -> dict[str, Any]:
    """RQ job: retrain the classifier from the Postgres gallery of this worker's settings."""
    from lootwatch.workers.context import current

    ctx = current()
    return retrain(ctx.settings, ctx.db, reason, epochs=epochs, input_size=input_size, views=views).to_dict()


def enqueue_retrain(queue: Any, reason: str, **kwargs: Any) -> Any:
    """Queue a retraining (``queue``: an RQ queue with the JSON serializer); None when one is
    already waiting: it will read the gallery as it is when it starts, so one is enough. A running
    one does not count, since it may have read the gallery before this change."""
    from rq.job import Job

    existing = Job.fetch_many([JOB_ID], connection=queue.connection, serializer=queue.serializer)[0]
    if existing is not None and existing.get_status(refresh=False) in ("queued", "deferred", "scheduled"):
        return None
    return queue.enqueue(
        JOB,
        args=(reason,),
        kwargs=kwargs,
        job_id=JOB_ID,
        job_timeout=3600,
        description=f"retrain the instance classifier: {reason}",
    )
