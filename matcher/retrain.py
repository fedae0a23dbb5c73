"""Retraining the instance classifier on the database's gallery, as a plain function.

``retrain`` reads the live gallery, trains one classifier per ``settings.classifier_backbones``
(several: an ensemble, published as one version) in a staging folder of the classifier store
(:mod:`matcher.classifier_store`), calibrates its fused alert threshold (:mod:`matcher.fusion_threshold`)
and publishes it. Only a finished, loadable checkpoint is published, and only then does CURRENT
move: matching keeps the previous version the whole time, and a failed training leaves it untouched.
``workers.jobs.retrain_classifier`` runs it as an RQ job.

Whether to fuse at all is decided before the refit, on views of held-out gallery photos the
classifier never trained on (``matcher.fusion.fusion_judge``): the descriptor alone, the logit
pool, or the classifier alone, whichever has the best AP there. ``fusion.json`` records the check
(``fusion_check``) and ``use``: ``descriptor`` (the worker then matches with the descriptor alone
and the index's threshold) or ``fusion`` (with the chosen weight and its calibrated threshold).

Idempotent: the gallery's identity (every live artefact and photo sha256) plus the training
settings are recorded in the card; a call that finds them equal to CURRENT's does nothing.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any

from lootwatch.matcher.classifier_store import (
    CARD,
    FUSION_FILE,
    classifier_root,
    classifier_versions,
    load_published,
    member_name,
)
from lootwatch.matcher.fusion_threshold import calibrate_fusion
from lootwatch.matcher.store import live_descriptor_spec, live_views
from lootwatch.models.classifier_data import select_artefacts
from lootwatch.models.errors import ModelError

from lootwatch.core.db import Database
from lootwatch.core.errors import LootwatchError
from lootwatch.core.gallery_photos import GalleryPhoto, read_gallery_photos
from lootwatch.core.settings import Settings
from lootwatch.core.storage import BlobStore

log = logging.getLogger(__name__)

FUSION_MODES = ("auto", "always")


class RetrainError(LootwatchError):
    """The gallery cannot train a classifier (too few artefacts or photos)."""


def training_photos(db: Database, store: BlobStore) -> list[GalleryPhoto]:
    """The live gallery's photo files, grouped by artefact (NotFoundError for one missing from the store)."""
    return sorted(read_gallery_photos(db, store), key=lambda p: p.artefact_id)  # stable: oldest first within


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
    fusion: str = "auto",
) -> RetrainResult:
    """Train on the Postgres gallery and publish a new version, unless CURRENT already is that.

    ``fusion``: ``auto`` decides on held-out gallery views whether the worker fuses this classifier
    with the descriptor (module doc); ``always`` fuses at the default weight whatever the check says
    (the check is still run and recorded), for operators who want the classifier's scores regardless.

    One classifier per ``settings.classifier_backbones`` (several: an ensemble, published as one version)."""
    from lootwatch.models.classifier import members_of  # heavy import: torch
    from lootwatch.models.classifier_train import TrainConfig, benchmark_config, train_classifier  # heavy import: torch

    photos = training_photos(db, BlobStore(settings.store_dir))
    overrides: dict[str, Any] = {"pretrained": pretrained, "name": "classifier"}
    if epochs is not None:
        overrides.update(epochs=epochs)
    if input_size is not None:
        overrides.update(input_size=(input_size, input_size))
    if views is not None:
        overrides.update(views_per_photo=views, val_views_per_photo=max(1, views))
    if fusion not in FUSION_MODES:
        raise RetrainError(f"fusion must be one of {', '.join(FUSION_MODES)}, got {fusion!r}")
    configs = [benchmark_config(**overrides, backbone=b) for b in settings.classifier_backbones]
    try:
        ts = select_artefacts(photos, configs[0].min_images)
    except ModelError as exc:
        raise RetrainError(f"cannot retrain the classifier: {exc}") from exc
    data_sha = ts.sha256()

    versions = classifier_versions(classifier_root(settings))
    live = versions.current()
    if live is not None:
        cards = [m.card for m in members_of(load_published(versions.path(live)))]
        same_config = [TrainConfig.recorded(c.extra.get("config")) for c in cards] == [
            TrainConfig.recorded(cfg) for cfg in configs
        ]
        if all(c.training_data_sha256 == data_sha for c in cards) and same_config:
            log.info("classifier %s already trained on this gallery; nothing to do (%s)", live, reason)
            return RetrainResult("unchanged", live, reason, len(ts.classes), ts.excluded)

    seconds = 0.0
    check: dict[str, Any] | None = None
    with versions.staging() as staging:
        for n, cfg in enumerate(configs, start=1):
            log.info("training classifier member %d/%d (%s)", n, len(configs), cfg.backbone)
            # the first member's held-out views decide whether the published version fuses at all
            judge = _fusion_judge(settings) if n == 1 else None
            try:
                result = train_classifier(
                    ts.photos, staging / member_name(n), cfg, say=log.info, progress=False, judge=judge
                )
            except ModelError as exc:  # e.g. an unknown backbone in classifier_backbones
                raise RetrainError(f"cannot train classifier member {cfg.backbone}: {exc}") from exc
            seconds += result.seconds
            check = result.fusion_check if n == 1 else check
        clf = load_published(staging)  # only loadable checkpoints are published
        version = clf.version
        published: dict[str, Any]
        if fusion == "auto" and check is not None and check["use"] == "descriptor":
            # the classifier did not beat the descriptor alone on held-out views: published (and
            # recorded) but not fused, so the worker matches with the descriptor and its threshold
            published = {
                "use": "descriptor",
                "descriptor": check["descriptor"],
                "classifier": version,
                "threshold": None,
            }
        else:
            weight = float(check["weight"]) if check is not None and fusion == "auto" else 0.5
            published = {"use": "fusion", **calibrate_fusion(settings, clf, photos, weight=weight)}
        published["fusion_check"] = check
        published["mode"] = fusion
        (staging / FUSION_FILE).write_text(json.dumps(published, indent=1))
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
        # the version names the weights: the same weights published before (deterministic training) are reused
        versions.publish(staging, version, exist_ok=True)
    log.info("classifier %s published (%s), previous %s", version, reason, live)
    return RetrainResult("published", version, reason, len(ts.classes), ts.excluded, seconds)


def _fusion_judge(settings: Settings) -> Any:
    """Held-out fusion check against the live index's descriptor, embedded as the index holds photos."""
    from lootwatch.matcher.fusion import fusion_judge  # heavy import: torch
    from lootwatch.models.descriptor import load_descriptor  # heavy import: torch

    descriptor = load_descriptor(live_descriptor_spec(settings.index_dir, settings.descriptor))
    return fusion_judge(descriptor, views=live_views(settings.index_dir))
