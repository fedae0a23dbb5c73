"""The alert thresholds, chosen for a false-alert rate on objects that are not in the gallery.

A deployment has its gallery and nothing else (no labelled listing photos), so the thresholds are
read off scores of photos standing in for listing photos:

- **impostor** scores (what an unprotected listing photo scores): re-staged copies of each gallery
  photo (``models.augment.listing_style``: new backdrop, scale, tilt, light, noise, watermark,
  crop, JPEG) compared with the gallery *without their own artefact* (leave-artefact-out), i.e. as an
  object the gallery does not hold;
- **genuine** scores: the same copies against the *other* photos of their own artefact (artefacts
  with a single photo give none). Re-staged copies of gallery views resemble the gallery more than a
  seller's photo of another view does, so these overstate recall;
- a **score prior** from the descriptor's card (``extra["score_prior"]``, measured on objects held
  out of its training, stored as numbers, never photos; :func:`models.validation.score_prior`): the
  similarity of an unseen object's listing photo to one gallery artefact, and the cross-view genuine
  similarity. Scaled to this gallery's size (the best of ``n`` artefacts, :func:`prior_scores`) it
  gives a second false-alert estimate and an honest recall estimate.

Both on the index's score scale: with ``contrast`` c (see :mod:`matcher.index`) a score is the best
artefact's similarity less c x the second best's.

Two levels (:data:`LEVELS`), each **the lowest threshold whose estimated false-alert rate is within
its target**, the estimate being the larger of the gallery's and the prior's: ``notify`` (e-mail and
Slack; ~2% of unprotected listing photos) and ``review`` (the ranked queue; ~10%). Recall does not
cap them: a threshold pulled down to keep recall buries analysts under false alerts, and at real
base rates almost every listing is unprotected. Each level records the estimated false-alert rate and
recall behind it. ``threshold`` (the one the queue uses) is the review level.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
from PIL import Image

from lootwatch.core.errors import BadInputError

LEVELS = {"notify": 0.02, "review": 0.10}  # level -> target share of unprotected listing photos alerting
PRIOR_DRAWS = 20_000
IMPOSTOR_QUANTILE = 0.95
GENUINE_CAP_QUANTILE = 0.5
MAX_QUERIES = 5000  # leave-one-out queries sampled from big galleries (cost is queries x photos)
RESTAGED_PER_PHOTO = 2
MAX_RESTAGED = 1000  # re-staged queries must be embedded: bound the cost on big galleries


@dataclass(frozen=True)
class ScoreStats:
    n: int
    mean: float | None
    min: float | None
    q05: float | None
    q50: float | None
    q95: float | None
    q99: float | None
    max: float | None

    @classmethod
    def of(cls, scores: np.ndarray) -> ScoreStats:
        if scores.size == 0:
            return cls(0, None, None, None, None, None, None, None)
        q = np.quantile(scores, [0.05, 0.5, 0.95, 0.99])
        return cls(
            int(scores.size),
            float(scores.mean()),
            float(scores.min()),
            float(q[0]),
            float(q[1]),
            float(q[2]),
            float(q[3]),
            float(scores.max()),
        )


@dataclass(frozen=True)
class AlertLevel:
    name: str
    target_fp: float  # the false-alert rate aimed at
    threshold: float | None
    expected_fp: float | None  # estimated share of unprotected listing photos at or above the threshold
    fp_gallery: float | None  # the estimate from the gallery's leave-artefact-out impostors
    fp_prior: float | None  # the estimate from the card's held-out prior at this gallery size
    expected_recall: float | None  # from the prior when there is one, else the re-staged views
    recall_restaged: float | None  # share of re-staged gallery views (optimistic) at or above it
    rule: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Calibration:
    threshold: float | None  # the review level: what opens a queue item
    rule: str
    genuine: ScoreStats
    impostor: ScoreStats
    n_photos: int
    n_artefacts: int
    n_queries: int
    queries: str  # "restaged gallery photos" or "gallery photos"
    contrast: float = 0.0  # the score scale calibrated on (matcher.index)
    notify_threshold: float | None = None  # e-mail / Slack
    levels: dict[str, dict[str, Any]] = field(default_factory=dict)  # name -> AlertLevel.to_dict()
    prior: str = "none"  # where the score prior came from, or "none"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def prior_scores(
    prior: dict[str, Any], n_artefacts: int, contrast: float = 0.0, draws: int = PRIOR_DRAWS, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """(genuine, impostor) scores simulated from a card's score prior for a gallery of ``n_artefacts``.

    ``prior["impostor_one"]``: quantiles (evenly spaced probabilities 0..1) of an unseen object's
    listing photo's similarity to one artefact (its best photo); ``prior["genuine"]``: quantiles of a
    protected listing photo's similarity to its own artefact (other views). An unprotected photo's
    score is the best of ``n`` independent draws (less ``contrast`` x the second best; the order
    statistics drawn directly); a protected photo's score is its own similarity against the best of
    the ``n - 1`` others, and -inf when another artefact beats it (a wrong match is no recall).
    """
    one = np.asarray(prior["impostor_one"], dtype=np.float64)
    gen = np.asarray(prior["genuine"], dtype=np.float64)
    if one.size < 2 or gen.size < 2:
        raise BadInputError("a score prior needs at least two quantiles of each distribution")
    rng = np.random.default_rng(seed)

    def inv(q: np.ndarray, u: np.ndarray) -> np.ndarray:
        return np.interp(u, np.linspace(0.0, 1.0, q.size), q)

    def top_two(n: int) -> tuple[np.ndarray, np.ndarray]:
        if n < 1:
            return np.full(draws, -np.inf), np.full(draws, -np.inf)
        u1 = rng.random(draws) ** (1.0 / n)  # max of n uniforms
        u2 = u1 * rng.random(draws) ** (1.0 / (n - 1)) if n > 1 else np.zeros(draws)
        s2 = inv(one, u2) if n > 1 else np.full(draws, -np.inf)
        return inv(one, u1), s2

    first, second = top_two(n_artefacts)
    impostor = first - contrast * np.where(np.isfinite(second), second, 0.0)
    own = inv(gen, rng.random(draws))
    other, _ = top_two(n_artefacts - 1)
    genuine = np.where(own > other, own - contrast * np.where(np.isfinite(other), other, 0.0), -np.inf)
    return genuine, impostor


def usable_prior(descriptor: Any, views: dict[str, Any]) -> dict[str, Any] | None:
    """The descriptor card's score prior when it applies here: measured with these exact weights and
    with gallery photos embedded the way this index embeds them (``views``); else None."""
    card = getattr(descriptor, "card", None)
    extra = getattr(card, "extra", None) or {}
    prior = extra.get("score_prior")
    if not isinstance(prior, dict):
        return None
    if prior.get("weights_sha256") != getattr(card, "weights_sha256", None) or prior.get("views") != views:
        return None
    return prior


def fp_threshold(impostor: np.ndarray, target: float) -> float:
    """The lowest score at which at most ``target`` of ``impostor`` scores reach it (>=)."""
    ordered = np.sort(np.asarray(impostor, dtype=np.float64))[::-1]
    k = int(np.floor(target * ordered.size + 1e-9))  # this many may alert
    if k >= ordered.size:
        return float(ordered[-1])
    v = ordered[k]  # must not alert (nor anything tied with it)
    above = ordered[:k][ordered[:k] > v]
    # halfway to the next higher score: stays strictly above v whatever precision scores are compared in
    return float((above.min() + v) / 2) if above.size else float(v + max(1e-6, abs(v) * 1e-6))


def alert_levels(
    genuine: np.ndarray,
    impostor: np.ndarray,
    *,
    prior_genuine: np.ndarray | None = None,
    prior_impostor: np.ndarray | None = None,
    levels: dict[str, float] | None = None,
) -> dict[str, AlertLevel]:
    """Each level's threshold: the lowest at which the larger false-alert estimate (gallery impostors,
    prior impostors) is within the target (module doc). Needs impostor scores from one source at least."""
    levels = levels or LEVELS
    genuine = np.asarray(genuine, dtype=np.float64)
    impostor = np.asarray(impostor, dtype=np.float64)
    has_prior = prior_impostor is not None and np.asarray(prior_impostor).size > 0
    out = {}
    for name, target in levels.items():
        if not 0.0 < target < 1.0:
            raise BadInputError(f"alert level {name}: target false-alert rate {target} must be in (0, 1)")
        candidates, sources = [], []
        if impostor.size:
            candidates.append(fp_threshold(impostor, target))
            sources.append("gallery leave-artefact-out")
        if has_prior:
            assert prior_impostor is not None
            candidates.append(fp_threshold(prior_impostor, target))
            sources.append("held-out prior")
        if not candidates:
            out[name] = AlertLevel(name, target, None, None, None, None, None, None, "none: no impostor score")
            continue
        t = max(candidates)
        fp_g = float((impostor >= t).mean()) if impostor.size else None
        fp_p = float((np.asarray(prior_impostor) >= t).mean()) if has_prior else None
        rec_r = float((genuine >= t).mean()) if genuine.size else None
        rec = float((np.asarray(prior_genuine) >= t).mean()) if has_prior and prior_genuine is not None else rec_r
        binding = sources[int(np.argmax(candidates))]
        rule = f"lowest t with estimated false alerts <= {target:g} ({binding} binding)"
        out[name] = AlertLevel(
            name, target, t, max(v for v in (fp_g, fp_p) if v is not None), fp_g, fp_p, rec, rec_r, rule
        )
    return out


def calibration_from_scores(
    genuine: np.ndarray,
    impostor: np.ndarray,
    *,
    n_photos: int,
    n_artefacts: int,
    n_queries: int,
    queries: str,
    contrast: float,
    prior: dict[str, Any] | None = None,
    levels: dict[str, float] | None = None,
) -> Calibration:
    """Both alert levels from gallery scores and (when given) a card's score prior."""
    pg = pi = None
    if prior:
        pg, pi = prior_scores(prior, n_artefacts, contrast)
    lv = alert_levels(genuine, impostor, prior_genuine=pg, prior_impostor=pi, levels=levels)
    review, notify = lv.get("review"), lv.get("notify")
    if review is not None and review.threshold is not None:
        threshold, rule = review.threshold, review.rule
    elif genuine.size:  # a single artefact and no prior: nothing plays an unprotected object
        threshold, rule = float(np.quantile(genuine, 0.05)), "quantile(genuine, 0.05) (no other artefact, no prior)"
    else:
        threshold, rule = None, "none: a single photo gives no score to calibrate on"
    return Calibration(
        threshold=threshold,
        rule=rule,
        genuine=ScoreStats.of(genuine),
        impostor=ScoreStats.of(impostor),
        n_photos=n_photos,
        n_artefacts=n_artefacts,
        n_queries=n_queries,
        queries=queries,
        contrast=contrast,
        notify_threshold=notify.threshold if notify is not None and notify.threshold is not None else threshold,
        levels={k: v.to_dict() for k, v in lv.items()},
        prior=str(prior.get("measured_on", "card")) if prior else "none",
    )


def restage_queries(
    images: Sequence[Image.Image],
    *,
    per_photo: int = RESTAGED_PER_PHOTO,
    max_queries: int = MAX_RESTAGED,
    seed: int = 0,
) -> tuple[list[Image.Image], np.ndarray]:
    """Listing-style copies of gallery photos and, for each, the index of the photo it came from.

    Seeded: the same gallery always gives the same queries (and so the same threshold).
    """
    from lootwatch.models.augment import listing_style

    sources = [i for i in range(len(images)) for _ in range(per_photo)]
    if len(sources) > max_queries:
        sources = sorted(random.Random(seed).sample(sources, max_queries))
    queries = [listing_style(images[i], random.Random(seed * 1_000_003 + k)) for k, i in enumerate(sources)]
    return queries, np.asarray(sources, dtype=np.int64)


def query_scores(
    queries: np.ndarray,
    sources: np.ndarray,
    vectors: np.ndarray,
    artefact_ids: Sequence[str],
    contrast: float = 0.0,
) -> tuple[np.ndarray, np.ndarray]:
    """(genuine, impostor) best scores of each query, its source photo left out (module doc)."""
    q = np.ascontiguousarray(np.asarray(queries, dtype=np.float32))
    x = np.ascontiguousarray(np.asarray(vectors, dtype=np.float32))
    if x.ndim != 2 or len(x) != len(artefact_ids) or q.ndim != 2 or len(q) != len(sources):
        raise BadInputError(
            f"need one vector per artefact id ({x.shape}, {len(artefact_ids)} ids) "
            f"and one source per query ({q.shape}, {len(sources)} sources)"
        )
    _, labels = np.unique(np.asarray(artefact_ids, dtype=object).astype(str), return_inverse=True)
    genuine, impostor = [], []
    chunk = max(1, (1 << 24) // max(len(x), 1))  # ~64 MB of scores at a time
    for start in range(0, len(q), chunk):
        src = sources[start : start + chunk]
        sims = q[start : start + chunk] @ x.T
        sims[np.arange(len(src)), src] = -np.inf  # never compare a photo with (a copy of) itself
        same = labels[src][:, None] == labels[None, :]
        gen = np.where(same, sims, -np.inf).max(axis=1)
        others = np.where(same, -np.inf, sims)
        best_other = others.argmax(axis=1)
        imp = others[np.arange(len(src)), best_other]
        if contrast:
            # the second other artefact: mask every photo of the best one
            runner_up = np.where(labels[None, :] == labels[best_other][:, None], -np.inf, others).max(axis=1)
            gen = gen - contrast * np.where(np.isfinite(imp), imp, 0.0)
            imp = imp - contrast * np.where(np.isfinite(runner_up), runner_up, 0.0)
        genuine.append(gen[np.isfinite(gen)])
        impostor.append(imp[np.isfinite(imp)])
    return _cat(genuine), _cat(impostor)


def leave_one_out_scores(
    vectors: np.ndarray,
    artefact_ids: Sequence[str],
    *,
    max_queries: int = MAX_QUERIES,
    seed: int = 0,
    contrast: float = 0.0,
) -> tuple[np.ndarray, np.ndarray, int]:
    """(genuine, impostor, queries used) with the clean gallery photos themselves as queries."""
    x = np.asarray(vectors, dtype=np.float32)
    sources = np.arange(len(x))
    if len(x) > max_queries:  # deterministic sample: the same gallery always gets the same threshold
        sources = np.sort(np.random.default_rng(seed).choice(len(x), max_queries, replace=False))
    genuine, impostor = query_scores(x[sources], sources, x, artefact_ids, contrast)
    return genuine, impostor, len(sources)


def calibrate_threshold(
    vectors: np.ndarray,
    artefact_ids: Sequence[str],
    *,
    queries: np.ndarray | None = None,
    sources: np.ndarray | None = None,
    impostor_quantile: float = IMPOSTOR_QUANTILE,
    genuine_cap_quantile: float = GENUINE_CAP_QUANTILE,
    max_queries: int = MAX_QUERIES,
    contrast: float = 0.0,
    prior: dict[str, Any] | None = None,
    levels: dict[str, float] | None = None,
) -> Calibration:
    """The thresholds from gallery ``vectors``; ``queries``/``sources``: re-staged copies; ``prior``: the
    descriptor card's score prior (see module doc). ``impostor_quantile``/``genuine_cap_quantile`` are
    unused (kept for callers of the older rule, :func:`threshold_from_scores`)."""
    if queries is None or sources is None:
        kind = "gallery photos"
        genuine, impostor, n_queries = leave_one_out_scores(
            vectors, artefact_ids, max_queries=max_queries, contrast=contrast
        )
    else:
        kind = "restaged gallery photos"
        genuine, impostor = query_scores(queries, np.asarray(sources, dtype=np.int64), vectors, artefact_ids, contrast)
        n_queries = len(queries)
    return calibration_from_scores(
        genuine,
        impostor,
        n_photos=len(artefact_ids),
        n_artefacts=len(set(artefact_ids)),
        n_queries=n_queries,
        queries=kind,
        contrast=contrast,
        prior=prior,
        levels=levels,
    )


def threshold_from_scores(
    genuine: np.ndarray,
    impostor: np.ndarray,
    impostor_quantile: float = IMPOSTOR_QUANTILE,
    genuine_cap_quantile: float = GENUINE_CAP_QUANTILE,
) -> tuple[float | None, str]:
    """The single-threshold rule the fused (classifier) scores still use: impostor q95 capped at a genuine
    quantile, on any score scale: (threshold, rule applied). Descriptor indexes use :func:`alert_levels`."""
    if impostor.size:
        threshold = float(np.quantile(impostor, impostor_quantile))
        rule = f"quantile(impostor, {impostor_quantile})"
        if genuine.size:
            cap = float(np.quantile(genuine, genuine_cap_quantile))
            if cap < threshold:
                return cap, f"quantile(genuine, {genuine_cap_quantile}), below impostor q{impostor_quantile}"
        return threshold, rule
    if genuine.size:
        return float(np.quantile(genuine, 0.05)), "quantile(genuine, 0.05) (no other artefact)"
    return None, "none: a single photo gives no score to calibrate on"


def calibrate_with_descriptor(
    embed: Callable[[list[Image.Image]], np.ndarray],
    images: Sequence[Image.Image],
    vectors: np.ndarray,
    artefact_ids: Sequence[str],
    *,
    per_photo: int = RESTAGED_PER_PHOTO,
    max_queries: int = MAX_RESTAGED,
    contrast: float = 0.0,
    prior: dict[str, Any] | None = None,
) -> Calibration:
    """Re-stage gallery photos, embed them with ``embed`` and calibrate on them."""
    queries, sources = restage_queries(images, per_photo=per_photo, max_queries=max_queries)
    return calibrate_threshold(
        vectors, artefact_ids, queries=embed(queries), sources=sources, contrast=contrast, prior=prior
    )


def _cat(parts: list[np.ndarray]) -> np.ndarray:
    return np.concatenate(parts) if parts else np.zeros(0, np.float32)
