"""Fusing the instance classifier with the retrieval descriptor, on calibrated scores.

Both models give, for a listing photo and each protected artefact ``a``, a score on [0, 1]:

- classifier: ``p(a)``, its softmax at the temperature fitted on held-out validation views
  (``card.extra["temperature"]``); an ensemble averages its members' calibrated softmax;
- descriptor: ``q(a) = sigmoid(alpha * (s(a) - beta))`` where ``s(a)`` is the cosine similarity
  of the best gallery photo of ``a`` and (alpha, beta) is a logistic fit of genuine vs impostor
  leave-one-out scores among the GALLERY photos (``matcher.threshold.leave_one_out_scores``) --
  the same gallery-only data the alert threshold is calibrated on; never listing photos.

Fusion rules (``fuse``); the default is ``logit`` (below), w = 0.5. ``rule="mean"`` is
``f(a) = w * p(a) + (1 - w) * q(a)``. A listing's
alert score is ``max_a f(a)``: an alert needs BOTH models fairly sure of the same artefact to get
high, a photo of an unknown object that fools one model stays below the other's half -- the
rejection score for the open set. ``rule="geometric"`` uses ``p^w * q^(1-w)`` instead (stricter);
``rule="logit"`` is the logarithmic opinion pool of the two calibrated posteriors,
``sigmoid(w * logit p + (1 - w) * logit q)``: at w = 0.5 it ranks listings exactly like the Bayes
combination of two conditionally independent calibrated experts, ``logit p + logit q`` (their
priors only add a constant); a confident "no" from one model cancels a confident "yes".
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from lootwatch.matcher.evaluate import BenchImages, RunResult
from lootwatch.matcher.index import EmbedsImages, GalleryIndex, card_dict, embed_images
from lootwatch.matcher.metrics import ListingResult, compute_metrics, grouped_metrics, pr_curve
from lootwatch.matcher.threshold import leave_one_out_scores
from lootwatch.matcher.views import GalleryViews, embed_views
from PIL import Image

DEFAULT_WEIGHT = 0.5
RULES = ("mean", "geometric", "logit")
# Chosen on principle, not on listing photos: both inputs are calibrated posteriors (temperature
# fitted on held-out gallery views; logistic fitted on gallery leave-one-out cosines), and for two
# conditionally independent calibrated experts the posterior log-odds add -- the logit pool.
DEFAULT_RULE = "logit"


class ClassifiesImages(Protocol):
    """``models.classifier.LoadedClassifier`` or ``Ensemble``."""

    @property
    def classes(self) -> list[str]: ...

    def predict_proba(self, images: Sequence[Image.Image], batch_size: int = 32) -> np.ndarray: ...


@dataclass(frozen=True)
class DescriptorCalibration:
    alpha: float
    beta: float
    n_genuine: int
    n_impostor: int

    def __call__(self, s: np.ndarray) -> np.ndarray:
        return (1.0 / (1.0 + np.exp(-self.alpha * (np.asarray(s, dtype=np.float64) - self.beta)))).astype(np.float32)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def calibrate_descriptor(gallery_vectors: np.ndarray, artefact_ids: Sequence[str]) -> DescriptorCalibration:
    """Logistic map cosine -> P(same artefact), fitted on gallery leave-one-out scores."""
    genuine, impostor, _ = leave_one_out_scores(gallery_vectors, artefact_ids)
    if genuine.size == 0 or impostor.size == 0:  # nothing to fit on: centre on a plain cosine scale
        return DescriptorCalibration(10.0, 0.5, int(genuine.size), int(impostor.size))
    from sklearn.linear_model import LogisticRegression

    x = np.r_[genuine, impostor].reshape(-1, 1)
    y = np.r_[np.ones(genuine.size), np.zeros(impostor.size)]
    lr = LogisticRegression(C=100.0, class_weight="balanced").fit(x, y)
    alpha = float(lr.coef_[0, 0])
    beta = float(-lr.intercept_[0] / alpha) if alpha else 0.5
    return DescriptorCalibration(alpha, beta, int(genuine.size), int(impostor.size))


def descriptor_scores(index: GalleryIndex, vectors: np.ndarray, classes: Sequence[str]) -> np.ndarray:
    """(n, C) best cosine per artefact, columns in ``classes`` order (-1 where an artefact has no photo)."""
    col = {c: i for i, c in enumerate(classes)}
    out = np.full((len(vectors), len(classes)), -1.0, dtype=np.float32)
    for row, hits in enumerate(index.search(vectors, k=len(classes))):
        for h in hits:
            if h.artefact_id in col:
                out[row, col[h.artefact_id]] = h.similarity
    return out


def fuse(p: np.ndarray, q: np.ndarray, weight: float = DEFAULT_WEIGHT, rule: str = DEFAULT_RULE) -> np.ndarray:
    if p.shape != q.shape:
        raise ValueError(f"classifier scores {p.shape} and descriptor scores {q.shape} differ")
    if not 0.0 <= weight <= 1.0:
        raise ValueError(f"fusion weight must be within [0, 1], got {weight}")
    if rule == "mean":
        return (weight * p + (1.0 - weight) * q).astype(np.float32)
    if rule == "geometric":
        return (np.clip(p, 1e-12, 1) ** weight * np.clip(q, 1e-12, 1) ** (1.0 - weight)).astype(np.float32)
    if rule == "logit":
        lp, lq = _logit(p), _logit(q)
        return (1.0 / (1.0 + np.exp(-(weight * lp + (1.0 - weight) * lq)))).astype(np.float32)
    raise ValueError(f"unknown fusion rule {rule!r}; known: {', '.join(RULES)}")


def _logit(x: np.ndarray) -> np.ndarray:
    x = np.clip(np.asarray(x, dtype=np.float64), 1e-6, 1 - 1e-6)
    return np.log(x) - np.log1p(-x)


# Fusion weights the held-out check chooses from: 0 = the descriptor alone, 1 = the classifier alone
# (for the artefacts it knows), 0.5 = the logit pool. Three fixed candidates, not a fitted weight:
# a few hundred held-out views can tell these apart, not tune a continuous weight.
CHECK_WEIGHTS = (0.0, DEFAULT_WEIGHT, 1.0)


def heldout_results(
    p: np.ndarray, q: np.ndarray, labels: np.ndarray, weight: float, rule: str = DEFAULT_RULE
) -> list[ListingResult]:
    """Held-out view scores as benchmark listings: each view once as a protected query (its own
    artefact in the gallery) and once as an UNPROTECTED one -- its artefact's column removed from
    the descriptor and the classifier's softmax renormalised over the other artefacts, i.e. an
    unknown object that a closed-set classifier forces into some protected class."""
    n, c = p.shape
    rows = np.arange(n)
    fused = fuse(p, q, weight, rule)
    unknown_p = p.copy()
    unknown_p[rows, labels] = 0.0
    unknown_p /= np.maximum(unknown_p.sum(axis=1, keepdims=True), 1e-12)
    others = fuse(unknown_p, q, weight, rule)
    others[rows, labels] = -np.inf
    out = []
    for r in range(n):
        best = int(np.argmax(fused[r]))
        out.append(ListingResult(str(labels[r]), (str(best),), float(fused[r, best])))
        if c > 1:
            other = int(np.argmax(others[r]))
            out.append(ListingResult(None, (str(other),), float(others[r, other])))
    return out


def decide_fusion(
    p: np.ndarray, q: np.ndarray, labels: np.ndarray, rule: str = DEFAULT_RULE, weights: Sequence[float] = CHECK_WEIGHTS
) -> dict[str, Any]:
    """Which of descriptor alone / fusion / classifier alone ranks held-out views best.

    ``p``: the classifier's calibrated softmax on views of photos it never trained on; ``q``: the
    calibrated descriptor scores of the same views against a gallery without their photos. The
    weight with the highest AP wins (top-1 breaks ties, then the lower weight: the descriptor
    alone before any fusion), so the deployed scoring is never worse on these views than the
    better of the two models. Returns the decision and every candidate's numbers.
    """
    rows: dict[str, dict[str, Any]] = {}
    for w in weights:
        m = compute_metrics(heldout_results(p, q, labels, w, rule))
        # nan (e.g. FP@R90 when recall 0.9 is never reached) as None: the card and fusion.json are JSON
        rows[f"{w:g}"] = {
            "weight": w,
            "ap": m.ap,
            "top1": m.top1,
            "r_at_p95": nan_to_none(m.r_at_p95),
            "fp_at_r90": nan_to_none(m.fp_at_r90),
        }
    best = max(rows.values(), key=lambda r: (round(r["ap"], 6), round(r["top1"], 6), -r["weight"]))
    use = "descriptor" if best["weight"] == 0.0 else "fusion"
    desc = rows.get("0")
    reason = f"weight {best['weight']:g}: AP {best['ap']:.3f}, top-1 {best['top1']:.3f}" + (
        f" vs descriptor alone AP {desc['ap']:.3f}, top-1 {desc['top1']:.3f}" if desc and use != "descriptor" else ""
    )
    return {
        "use": use,
        "weight": float(best["weight"]),
        "rule": rule,
        "reason": reason,
        "n_views": int(len(labels)),
        "queries": "listing-style views of held-out gallery photos, each also as an unprotected object",
        "candidates": rows,
    }


def fusion_judge(
    descriptor: EmbedsImages,
    *,
    views: GalleryViews | None = None,
    rule: str = DEFAULT_RULE,
    batch_size: int = 32,
) -> Callable[[Any], dict[str, Any]]:
    """The ``judge`` of ``models.classifier_train.train_classifier``: scores the phase-1 model's
    held-out views (``HeldOut``) with ``descriptor`` too -- its gallery the training photos only,
    embedded as an index holds them (``views``), calibrated as the worker calibrates it -- and
    returns ``decide_fusion``'s answer, plus the descriptor that was judged."""

    def judge(held: Any) -> dict[str, Any]:
        images = [photo.pixels() for photo in held.train]
        ids = [photo.artefact_id for photo in held.train]
        gallery = embed_views(descriptor, images, views or GalleryViews(), batch_size=batch_size)
        del images
        calibration = calibrate_descriptor(gallery, ids)
        queries = _embed_stream(descriptor, held.images(), batch_size)
        col = {c: j for j, c in enumerate(held.classes)}
        label = np.array([col[a] for a in ids])
        sims = queries @ gallery.T
        cosine = np.full((len(queries), len(held.classes)), -1.0, dtype=np.float32)
        for j in range(len(held.classes)):
            if (label == j).any():
                cosine[:, j] = sims[:, label == j].max(axis=1)
        out = decide_fusion(np.asarray(held.probs), calibration(cosine), np.asarray(held.labels), rule)
        out["descriptor"] = str(descriptor.card.version) if hasattr(descriptor.card, "version") else None
        out["descriptor_logistic"] = calibration.to_dict()
        return out

    return judge


def _embed_stream(descriptor: EmbedsImages, images: Iterable[Image.Image], batch_size: int) -> np.ndarray:
    """Embed an image stream batch by batch, never holding more than a batch of images."""
    out, batch = [], []
    for img in images:
        batch.append(img)
        if len(batch) == batch_size:
            out.append(descriptor.embed(batch))
            batch = []
    if batch:
        out.append(descriptor.embed(batch))
    return np.concatenate(out) if out else np.zeros((0, int(card_dict(descriptor.card)["dim"])), np.float32)


@dataclass
class FusedScores:
    """Everything a benchmark run needs, kept so several rules can be compared without re-embedding."""

    classes: list[str]
    classifier: np.ndarray  # (n, C) calibrated probabilities
    cosine: np.ndarray  # (n, C) raw descriptor scores
    descriptor: np.ndarray  # (n, C) calibrated descriptor probabilities
    calibration: DescriptorCalibration
    seconds: dict[str, float]


def score_listings(
    images: BenchImages,
    classifier: ClassifiesImages,
    descriptor: EmbedsImages,
    *,
    batch_size: int = 32,
    views: GalleryViews | None = None,
) -> FusedScores:
    bench = images.bench
    classes = list(classifier.classes)
    missing = sorted(set(bench.artefacts) - set(classes))
    if missing:
        # artefacts the classifier was not trained on (e.g. below --min-images): still scored by
        # the descriptor; the classifier gives them probability 0
        classes = classes + missing
    t0 = time.perf_counter()
    gallery_vectors = embed_views(descriptor, images.gallery, views or GalleryViews(), batch_size=batch_size)
    ids = [r.artefact_id for r in bench.gallery]
    index = GalleryIndex.from_vectors(card_dict(descriptor.card), np.arange(1, len(ids) + 1), ids, gallery_vectors)
    calibration = calibrate_descriptor(gallery_vectors, ids)
    listing_vectors = embed_images(descriptor, images.listings, batch_size=batch_size)
    cosine = descriptor_scores(index, listing_vectors, classes)
    t1 = time.perf_counter()
    probs = classifier.predict_proba(images.listings, batch_size)
    p = np.zeros((len(images.listings), len(classes)), dtype=np.float32)
    p[:, : probs.shape[1]] = probs
    t2 = time.perf_counter()
    n = max(1, len(images.listings))
    return FusedScores(
        classes,
        p,
        cosine,
        calibration(cosine),
        calibration,
        {
            "descriptor_ms_per_photo": round(1000 * (t1 - t0) / n, 2),
            "classifier_ms_per_photo": round(1000 * (t2 - t1) / n, 2),
        },
    )


def run_from_scores(
    images: BenchImages,
    scores: np.ndarray,
    classes: Sequence[str],
    *,
    name: str,
    card: dict[str, Any],
    calibration: dict[str, Any],
    threshold: float | None = None,
    k: int = 10,
) -> RunResult:
    """A ``RunResult`` (same metrics as descriptor runs) from an (n, C) artefact score matrix."""
    bench = images.bench
    order = np.argsort(-scores, axis=1, kind="stable")[:, :k]
    results, listings = [], []
    for row, (lrow, idx) in enumerate(zip(bench.listings, order, strict=True)):
        ranked = tuple(classes[i] for i in idx)
        results.append(ListingResult(lrow.artefact_id, ranked, float(scores[row, idx[0]])))
        listings.append(
            {
                "listing_id": lrow.listing_id,
                "image": str(lrow.image.relative_to(bench.root)),
                "artefact_id": lrow.artefact_id,
                "top": [[classes[i], round(float(scores[row, i]), 6)] for i in idx],
            }
        )
    photos = bench.photos_per_artefact
    return RunResult(
        name=name,
        card=card,
        metrics=compute_metrics(results, threshold),
        by_collection=grouped_metrics(results, bench.collection_of, threshold),
        by_photos=grouped_metrics(results, {a: str(n) for a, n in photos.items()}, threshold),
        calibration=calibration,
        curve=pr_curve(results),
        listings=listings,
    )


def classifier_runs(
    images: BenchImages,
    classifier: ClassifiesImages,
    descriptor: EmbedsImages,
    *,
    name: str = "classifier",
    weight: float = DEFAULT_WEIGHT,
    rule: str = DEFAULT_RULE,
    batch_size: int = 32,
    views: GalleryViews | None = None,
) -> tuple[list[RunResult], FusedScores]:
    """[classifier alone, descriptor (calibrated) alone, fusion] on a benchmark, plus the raw scores;
    and a fourth run, what a deployment scores with, when the classifier's card records a held-out
    fusion check (``fusion_judge``): the descriptor alone or the fusion at the weight it chose.

    Alert thresholds: the classifier's and the fusion's operating point is 0.5 on their calibrated
    scale (more likely the artefact than not); AP / R@P95 / FP@R90 do not depend on it.
    """
    fs = score_listings(images, classifier, descriptor, batch_size=batch_size, views=views)
    ccard = _classifier_card(classifier)
    dcard = card_dict(descriptor.card)
    cal = {"descriptor_logistic": fs.calibration.to_dict(), "seconds": fs.seconds}
    fused = fuse(fs.classifier, fs.descriptor, weight, rule)
    runs = [
        run_from_scores(images, fs.classifier, fs.classes, name=name, card=ccard, calibration=cal, threshold=0.5),
        run_from_scores(
            images,
            fs.descriptor,
            fs.classes,
            name=f"{dcard.get('name')} (calibrated)",
            card=dcard,
            calibration=cal,
            threshold=0.5,
        ),
        run_from_scores(
            images,
            fused,
            fs.classes,
            name=f"fusion {rule} w={weight:g}",
            card={"classifier": ccard, "descriptor": dcard},
            calibration={**cal, "rule": rule, "weight": weight},
            threshold=0.5,
        ),
    ]
    check = _fusion_check(classifier)
    if check is not None:
        w = float(check["weight"])
        deployed = (
            fs.descriptor if check["use"] == "descriptor" else fuse(fs.classifier, fs.descriptor, w, check["rule"])
        )
        runs.append(
            run_from_scores(
                images,
                deployed,
                fs.classes,
                name=f"deployed: {'descriptor only' if check['use'] == 'descriptor' else f'fusion w={w:g}'} "
                "(held-out check)",
                card={"classifier": ccard, "descriptor": dcard},
                calibration={**cal, "fusion_check": check},
                threshold=0.5,
            )
        )
    return runs, fs


def _fusion_check(classifier: Any) -> dict[str, Any] | None:
    """The held-out fusion decision recorded in a classifier's card (the first member's for an ensemble)."""
    card = getattr(classifier, "card", None) or getattr(
        next(iter(getattr(classifier, "members", [])), None), "card", None
    )
    check = (card.extra.get("fusion_check") if card is not None else None) or None
    return dict(check) if check else None


def classification_tables(images: BenchImages, fs: FusedScores, fused: np.ndarray | None = None) -> dict[str, Any]:
    """P/R/F1 and top-1/3/5/10 per collection and per photos-per-artefact, for each model."""
    from lootwatch.models.classifier_metrics import classification_report

    bench = images.bench
    truths = [r.artefact_id for r in bench.listings]
    groups = {
        "by_collection": bench.collection_of,
        "by_photos_per_artefact": {a: str(n) for a, n in bench.photos_per_artefact.items()},
    }
    out = {
        "classifier": classification_report(fs.classifier, fs.classes, truths, groups),
        "descriptor": classification_report(fs.descriptor, fs.classes, truths, groups),
    }
    if fused is not None:
        out["fusion"] = classification_report(fused, fs.classes, truths, groups)
    return out


def _classifier_card(classifier: Any) -> dict[str, Any]:
    if hasattr(classifier, "card"):
        return card_dict(classifier.card)
    members = getattr(classifier, "members", [])
    return {"ensemble": [card_dict(m.card) for m in members]}


def train_for_benchmark(
    images: BenchImages,
    out: Path,
    *,
    negatives: Path | None = None,
    backbone: str = "tf_efficientnet_lite0",
    retrain: bool = False,
    say: Callable[[str], None] = print,
    descriptor: EmbedsImages | None = None,
    views: GalleryViews | None = None,
) -> Path:
    """Train a classifier on the benchmark's GALLERY photos only (plus optional negatives such as
    coil100-train for outlier exposure); listing photos are never read.

    ``descriptor`` (with the gallery ``views`` the index uses): also decide on held-out gallery
    views whether fusing with it helps (``fusion_judge``), recorded in the card.
    A checkpoint already at ``out`` trained the same way on the same gallery photos (and checked
    against the same descriptor, when one is given) is reused.
    """
    from lootwatch.models.classifier import load_classifier
    from lootwatch.models.classifier_data import read_gallery, select_artefacts
    from lootwatch.models.classifier_train import TrainConfig, benchmark_config, train_classifier

    gallery = images.bench.root / "gallery.csv"
    cfg = benchmark_config(backbone=backbone, negatives=negatives)
    judged = str(descriptor.card.version) if descriptor is not None and hasattr(descriptor.card, "version") else None
    if out.is_file() and not retrain:
        card = load_classifier(out).card
        data_sha = select_artefacts(read_gallery(gallery), cfg.min_images).sha256()
        same_config = TrainConfig.recorded(card.extra.get("config")) == TrainConfig.recorded(cfg)
        same_check = judged is None or (card.extra.get("fusion_check") or {}).get("descriptor") == judged
        if card.training_data_sha256 == data_sha and same_config and same_check:
            say(f"classifier: reusing {out} (same gallery photos, same training settings)")
            return out
    judge = fusion_judge(descriptor, views=views) if descriptor is not None else None
    return train_classifier(gallery, out, cfg, say=say, judge=judge).checkpoint


def nan_to_none(v: float) -> float | None:
    return None if isinstance(v, float) and math.isnan(v) else v
