"""The descriptor, the gallery index and (when one is published) the instance classifier a worker
matches with, loaded once per process.

A new index version published under the index dir (``CURRENT``) is picked up between batches
without a restart; a descriptor that does not fit the new index is refused, keeping the old pair.
An index version that carries its own descriptor (fine-tuned on the gallery, ``matcher.tuning``)
brings it along: the engine swaps to it with the index, and back to the configured one for a
version without.
The live classifier version (:mod:`matcher.classifier_store`: ``<checkpoints>/classifier/CURRENT``) is
followed the same way; a version that fails to load keeps the last good one (or none).

Scores. Without a classifier a listing photo's artefact score is the descriptor's contrast score
(``matcher.index``: cosine less half the best other artefact's cosine), the cosine kept beside it.
With one, each artefact ``a`` of the index gets (see :mod:`matcher.fusion`)

- ``descriptor``: cosine ``s(a)`` of its best gallery photo;
- ``descriptor_p``: ``q(a) = sigmoid(alpha * (s(a) - beta))``, (alpha, beta) fitted on leave-one-out
  scores among the index's own gallery vectors each time an index version is loaded;
- ``classifier``: ``p(a)``, the temperature-calibrated softmax;
- ``fused``: ``fuse(p, q)`` with the default rule (logit pool, w = 0.5), which is what ``matches.score``
  holds and the alert rule reads. An artefact the classifier was not trained on yet (added since its
  last retraining) has ``classifier`` None and ``fused = q``: the descriptor alone speaks for it
  until the retraining job publishes a version that knows it.

The fused alert threshold is calibrated on the gallery alone when the classifier is published
(``matcher.fusion_threshold.calibrate_fusion``: the re-staged-gallery rule of :mod:`matcher.threshold`
applied to fused scores) and read from the version's ``fusion.json``; a version without one for
this descriptor is refused. A version whose held-out check chose the descriptor alone
(``"use": "descriptor"``) is loaded but not run: scores and threshold stay the descriptor's.

The forward pass runs on CUDA with autocast where there is a GPU. On a CPU the fastest of fp32,
bf16 autocast and channels_last is not knowable in advance (it depends on the CPU's AMX/AVX-512
support and the model), so ``precision="auto"`` times a few batches of each at start-up and keeps
the fastest whose embeddings still agree with fp32 (see :mod:`workers.precision`).
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from lootwatch.matcher.classifier_store import FUSION_FILE, classifier_versions, load_published
from lootwatch.matcher.fused_scores import classifier_columns, fused_matrix
from lootwatch.matcher.fusion import DescriptorCalibration, calibrate_descriptor
from lootwatch.matcher.index import GalleryIndex
from lootwatch.matcher.store import descriptor_spec_for, index_versions, live_descriptor_spec
from lootwatch.workers.precision import PRECISIONS, choose_precision
from PIL import Image

from lootwatch.core.errors import ConfigError

if TYPE_CHECKING:
    import torch
    from lootwatch.models.classifier import Ensemble, LoadedClassifier

    from lootwatch.core.settings import Settings

log = logging.getLogger(__name__)


@dataclass
class Hit:
    artefact_id: str
    score: float
    photo_id: int | None
    rank: int
    scores: dict[str, float | None] | None = None  # per model (cosine, contrast, classifier, fused)


@dataclass
class LiveClassifier:
    version: str
    model: LoadedClassifier | Ensemble
    fusion: dict[str, Any]  # fusion.json: rule, weight, threshold, calibration evidence

    @property
    def threshold(self) -> float:
        return float(self.fusion["threshold"])

    @property
    def fuses(self) -> bool:
        """False when the held-out check at publication found the descriptor alone better."""
        return self.fusion.get("use", "fusion") != "descriptor"


class MatchEngine:
    def __init__(
        self,
        descriptor_spec: str,
        index_dir: Path,
        device: str = "cpu",
        top_k: int = 5,
        precision: str = "fp32",
        precision_batch: int = 8,
        precision_cache: Path | None = None,
        classifier_dir: Path | None = None,
    ) -> None:
        from lootwatch.models.descriptor import load_descriptor  # heavy import: torch

        self.configured_descriptor = descriptor_spec
        self.descriptor_spec = live_descriptor_spec(index_dir, descriptor_spec)
        self.descriptor = load_descriptor(self.descriptor_spec, device=device)
        self.device = device
        self.index_dir = index_dir
        self.top_k = top_k
        self._index: GalleryIndex | None = None
        self._index_version: str | None = None
        self._index_watch = index_versions(index_dir).watch()
        self._descriptor_calibration: DescriptorCalibration | None = None
        self.classifier_dir = classifier_dir
        self._classifier: LiveClassifier | None = None
        self._classifier_watch = None if classifier_dir is None else classifier_versions(classifier_dir).watch()
        self._checked_at = 0.0
        self.precision = self._choose_precision(precision, precision_batch, precision_cache)
        self.reload_if_changed(force=True)

    def _choose_precision(self, requested: str, batch: int, cache: Path | None) -> str:
        if self.device.startswith("cuda"):
            return "cuda-autocast"
        if requested == "auto":
            return choose_precision(self, batch, cache)
        if requested not in PRECISIONS:
            raise ConfigError(f"precision {requested!r} is not one of auto, {', '.join(PRECISIONS)}")
        self.set_precision(requested)
        return requested

    def set_precision(self, precision: str) -> None:
        import torch  # heavy import

        fmt = torch.channels_last if precision == "channels_last" else torch.contiguous_format
        self.descriptor.to(memory_format=fmt)  # type: ignore[call-overload]
        self.precision = precision

    @property
    def index(self) -> GalleryIndex:
        if self._index is None:
            raise ConfigError(f"no gallery index under {self.index_dir}: run `lootwatch index build` first")
        return self._index

    @property
    def model_version(self) -> str:
        """The descriptor's version (what the index must have been built with)."""
        return str(self.descriptor.card.version)

    @property
    def classifier(self) -> LiveClassifier | None:
        return self._classifier

    @property
    def models_version(self) -> str:
        """What ``matches.model_version`` records: the descriptor, plus the classifier when fused."""
        if self._classifier is None or not self._classifier.fuses:
            return self.model_version
        return f"{self.model_version}+{self._classifier.version}"

    @property
    def index_version(self) -> str:
        return str(self.index.version)

    def follow_classifiers(self, classifier_dir: Path) -> None:
        """Use the classifier versions published under ``classifier_dir`` (checked at once)."""
        if self.classifier_dir != classifier_dir:
            self.classifier_dir = classifier_dir
            self._classifier_watch = classifier_versions(classifier_dir).watch()
            self._reload_classifier()

    def reload_if_changed(self, force: bool = False, every_s: float = 5.0) -> bool:
        now = time.monotonic()
        if not force and now - self._checked_at < every_s:
            return False
        self._checked_at = now
        changed = self._reload_index()
        return self._reload_classifier() or changed

    def _reload_index(self) -> bool:
        from lootwatch.models.descriptor import load_descriptor  # heavy import: torch

        version = self._index_watch.changed()  # a version that failed to load is not retried; a newer one is
        if version is None or version == self._index_version:
            return False
        try:
            spec = descriptor_spec_for(self.index_dir / version, self.configured_descriptor)
            descriptor = self.descriptor if spec == self.descriptor_spec else load_descriptor(spec, device=self.device)
            index = GalleryIndex.load(self.index_dir / version, expect_card_version=str(descriptor.card.version))
        except Exception:
            if self._index is None:
                raise  # nothing to keep serving
            log.exception("index %s not loaded; keeping %s", version, self._index_version)
            return False
        if descriptor is not self.descriptor:
            self.descriptor, self.descriptor_spec = descriptor, spec
            self.set_precision(self.precision)  # the mode chosen at start-up, on the new weights
        self._index, self._index_version = index, version
        self._descriptor_calibration = None  # refitted on this gallery when first needed
        log.info("gallery index loaded", extra={"action": "index.load", "version": version})
        return True

    def _reload_classifier(self) -> bool:
        if self._classifier_watch is None:
            return False
        version = self._classifier_watch.changed()  # a version that failed to load is not retried; a newer one is
        live = self._classifier.version if self._classifier else None
        if version is None or version == live:
            return False
        try:
            loaded = self._load_classifier(version)
        except Exception:  # noqa: BLE001 - any broken version: keep matching with the last good one
            log.exception("classifier %s not loaded; keeping %s", version, live or "the descriptor alone")
            return False
        self._classifier = loaded
        log.info("classifier loaded", extra={"action": "classifier.load", "version": version})
        return True

    def _load_classifier(self, version: str) -> LiveClassifier:
        folder = self.classifier_dir / version  # type: ignore[operator]
        fusion_path = folder / FUSION_FILE
        if not fusion_path.is_file():
            raise ConfigError(f"{folder} has no {FUSION_FILE}: its fused alert threshold was never calibrated")
        fusion = json.loads(fusion_path.read_text())
        if fusion.get("descriptor") != self.model_version:
            raise ConfigError(
                f"{fusion_path} was calibrated with descriptor {fusion.get('descriptor')!r}, "
                f"this worker runs {self.model_version!r}: retrain the classifier"
            )
        if fusion.get("use", "fusion") != "descriptor" and fusion.get("threshold") is None:
            raise ConfigError(f"{fusion_path} holds no threshold (a gallery too small to calibrate on)")
        return LiveClassifier(version, load_published(folder, device=self.device), fusion)

    def alert_threshold(self, settings: Settings) -> float:
        """The threshold on the score this engine writes to ``matches.score``."""
        if self._classifier is not None and self._classifier.fuses:
            override = settings.fused_alert_threshold
            return float(override) if override is not None else self._classifier.threshold
        threshold = settings.alert_threshold if settings.alert_threshold is not None else self.index.threshold
        if threshold is None:
            raise ConfigError("the index has no calibrated alert threshold: set LOOTWATCH_ALERT_THRESHOLD")
        return float(threshold)

    def notify_threshold(self, settings: Settings) -> float:
        """The score at which a new review item also sends notices (e-mail, Slack): the setting, else the
        index's notify level; never below :meth:`alert_threshold`. A live classifier's fused score has a
        single level, so there every item notifies."""
        review = self.alert_threshold(settings)
        if self._classifier is not None:
            return review
        level = settings.notify_threshold if settings.notify_threshold is not None else self.index.notify_threshold
        return max(review, float(level)) if level is not None else review

    @property
    def input_side(self) -> int:
        """The most pixels a side any live model reads of a photo (descriptor, classifier): decoding a
        photo larger than that at a reduced scale loses nothing they see (see ``vet_image``)."""
        sizes = [*self.descriptor.card.input_size]
        if self._classifier is not None and self._classifier.fuses:
            from lootwatch.models.classifier import focuses, members_of  # heavy import: torch

            for member in members_of(self._classifier.model):
                # a focusing classifier reads a crop of the photo: twice its side, so the crop is not upsampled
                grow = 2 if focuses(member.card) else 1
                sizes.extend(grow * side for side in member.card.input_size)
        return max(sizes)

    def forward(self, x: torch.Tensor, precision: str | None = None) -> torch.Tensor:
        """One batch through the descriptor in the chosen (or given) precision; float32 rows out."""
        import torch  # heavy import

        mode = precision or self.precision
        with torch.inference_mode():
            if mode == "cuda-autocast":
                with torch.autocast("cuda"):
                    return self.descriptor.embed_batch(x).float()
            if mode == "bf16":
                with torch.autocast("cpu", dtype=torch.bfloat16):
                    return self.descriptor.embed_batch(x).float()
            if mode == "channels_last":
                x = x.contiguous(memory_format=torch.channels_last)
            return self.descriptor.embed_batch(x).float()

    def prepare(self, images: list[Image.Image]) -> torch.Tensor:
        """The forward pass's input batch; thread-safe, so a worker prepares the next batch meanwhile. Laid
        out as the chosen precision's forward pass reads it (channels-last: no conversion in the forward)."""
        cl = self.precision == "channels_last"
        return self.descriptor.preprocess(images, channels_last=cl).to(self.device)

    def embed(self, images: list[Image.Image], x: torch.Tensor | None = None) -> np.ndarray:
        """Rows for ``images``; ``x`` is their batch from :meth:`prepare` when already made."""
        if not images:
            return np.zeros((0, self.descriptor.card.dim), dtype=np.float32)
        if x is None:
            x = self.prepare(images)
        return np.ascontiguousarray(self.forward(x).cpu().numpy(), dtype=np.float32)

    def search(self, vectors: np.ndarray) -> list[list[Hit]]:
        hits = self.index.search(vectors, self.top_k)
        # matches.rank is 1-based (1 = the best artefact), as analysts read it
        return [
            [
                Hit(
                    h.artefact_id,
                    float(h.score),
                    h.photo_id,
                    h.rank + 1,
                    # cosine under the fused path's key; the score itself carries the contrast (matcher.index)
                    {"descriptor": float(h.similarity), "descriptor_contrast": float(h.score)},
                )
                for h in row
            ]
            for row in hits
        ]

    def match(self, images: list[Image.Image], x: torch.Tensor | None = None) -> list[list[Hit]]:
        """The top-k artefacts of each photo: descriptor scores, or fused ones with a classifier."""
        vectors = self.embed(images, x)
        if self._classifier is None or not self._classifier.fuses or not images:
            return self.search(vectors)
        return self._fused_hits(images, vectors, self._classifier)

    def descriptor_calibration(self) -> DescriptorCalibration:
        """cosine -> P(same artefact), fitted on this index's gallery vectors (leave-one-out)."""
        if self._descriptor_calibration is None:
            try:
                ids, vectors = _gallery_vectors(self.index)
                self._descriptor_calibration = calibrate_descriptor(vectors, ids)
            except RuntimeError:  # an index kind that cannot give its vectors back (ivfpq)
                cal = self._classifier.fusion["descriptor_logistic"] if self._classifier else None
                if cal is None:
                    raise
                self._descriptor_calibration = DescriptorCalibration(**cal)
        return self._descriptor_calibration

    def _fused_hits(self, images: list[Image.Image], vectors: np.ndarray, live: LiveClassifier) -> list[list[Hit]]:
        index = self.index
        classes = sorted(index.artefacts)
        if not classes:
            return [[] for _ in images]
        col = {c: j for j, c in enumerate(classes)}
        cosine = np.full((len(images), len(classes)), -1.0, dtype=np.float32)
        best_photo: list[dict[str, int]] = []
        for row, hits in enumerate(index.search(vectors, k=len(classes))):
            best_photo.append({h.artefact_id: h.photo_id for h in hits})
            for h in hits:
                cosine[row, col[h.artefact_id]] = h.similarity
        q = self.descriptor_calibration()(cosine)
        p, known = classifier_columns(live.model, live.model.predict_proba(images), classes)
        rule = str(live.fusion.get("rule", "logit"))
        weight = float(live.fusion.get("weight", 0.5))
        fused = fused_matrix(p, q, known, rule, weight)
        out = []
        for row in range(len(images)):
            order = np.argsort(-fused[row], kind="stable")[: self.top_k]
            out.append(
                [
                    Hit(
                        classes[j],
                        float(fused[row, j]),
                        best_photo[row].get(classes[j]),
                        rank + 1,
                        {
                            "descriptor": float(cosine[row, j]),
                            "descriptor_p": float(q[row, j]),
                            "classifier": float(p[row, j]) if known[j] else None,
                            "fused": float(fused[row, j]),
                        },
                    )
                    for rank, j in enumerate(order)
                ]
            )
        return out


def _gallery_vectors(index: GalleryIndex) -> tuple[list[str], np.ndarray]:
    """The index's live photo vectors and their artefacts (FAISS gives flat/HNSW vectors back)."""
    ids, vectors = index.vectors()
    return [index.artefact_of[int(i)] for i in ids], vectors
