"""The gallery index: FAISS over gallery photo vectors, answered at artefact level.

Vectors are keyed by lootwatch's own photo ids (``artefact_photos.id``, int64) through an
``IndexIDMap2``, so a photo id found by FAISS is the database row, and ``artefact_of`` maps it to
its artefact. Scores are inner products of L2-normalised vectors, i.e. cosine similarities.

**Artefact similarity** = the best cosine over that artefact's photos (max-pooling). A listing
photo shows one view of an object; the gallery holds a few views of it, and the closest view is the
evidence. Averaging would punish artefacts photographed from many sides.

**Artefact score** (what is ranked, stored and compared with the threshold) = its similarity minus
``contrast`` x the best similarity of any *other* artefact (a soft second-nearest-neighbour test,
as Lowe's ratio test for keypoints). An unprotected object that merely resembles the gallery is
about as close to several artefacts; a protected one stands out from the rest. The ranking is
unchanged; only the alert score is. ``contrast = 0.5`` (default) lies in the middle of a broad
optimum (0.4-0.6) measured on bench-coil-dev and on the demo gallery (README); 0 gives plain
cosines. With a single artefact in the index, the "other" similarity is taken as 0.

``kind`` selects the FAISS structure:

- ``flat`` (default): exact search; removal with ``remove_ids``.
- ``hnsw``: graph search, sub-linear query time, approximate; FAISS cannot delete from HNSW,
  so removed photos are tombstoned (filtered out of results) and the graph is rebuilt from its
  own stored vectors once tombstones pass a quarter of the index.
- ``ivfflat``: inverted lists of full vectors: exact scores within the ``nprobe`` lists searched;
  needs a training set as ivfpq does.
- ``ivfpq``: inverted lists + product quantisation: ~16x less memory, approximate scores; needs
  a training set (the gallery itself, at least :data:`IVFPQ_MIN_PHOTOS` photos).

``auto`` (for ``from_vectors`` and ``build``) picks by gallery size (``choose_kind``): exact search
up to ``AUTO_EXACT_MAX_PHOTOS`` photos, where a query still costs under a tenth of embedding the
photo, then HNSW at the setting that kept exact search's top-1 artefact for >= 99% of queries.
Both numbers come from ``bench/bench_faiss.py`` on descriptor vectors of real photos.

``views``: how gallery photos are embedded (:mod:`matcher.views`: mean over input scales and
mirrors); recorded with the index so that photos added later are embedded the same way.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import faiss
import numpy as np
from lootwatch.matcher.errors import IndexMismatchError, IndexNotFoundError
from lootwatch.matcher.threshold import calibrate_threshold, calibrate_with_descriptor, usable_prior
from lootwatch.matcher.views import GalleryViews, embed_views
from lootwatch.models.card import IDENTITY_FIELDS, card_dict, card_version
from PIL import Image

from lootwatch.core.errors import BadInputError
from lootwatch.core.files import atomic_write
from lootwatch.core.gallery_photos import GalleryPhoto

KINDS = ("flat", "hnsw", "ivfflat", "ivfpq")
IVF_KINDS = ("ivfflat", "ivfpq")  # trained on the first vectors added
AUTO = "auto"  # from_vectors / build: the kind ``choose_kind`` gives for the gallery's size
# Measured by bench/bench_faiss.py on descriptor vectors of real photos (README): a flat query stays
# under a tenth of the descriptor's per-photo time up to about 380k gallery photos on one CPU thread
# (rounded down here), so exact search -- exact, and deletable in place -- is kept up to there; HNSW
# at M=16, efSearch 64 kept exact search's top-1 artefact for every query at every size measured and
# was the fastest such setting at 100k.
AUTO_EXACT_MAX_PHOTOS = 300_000
AUTO_APPROXIMATE: tuple[str, dict[str, int]] = ("hnsw", {"hnsw_m": 16, "ef_search": 64})
INDEX_FILE = "index.faiss"
META_FILE = "meta.json"
FORMAT = 1
DEFAULT_CONTRAST = 0.5  # see the module doc
IVFPQ_MIN_PHOTOS = 10_000  # k-means over 256 PQ centroids wants ~39 points each (ivfflat: same floor)


@dataclass(frozen=True)
class ArtefactHit:
    artefact_id: str
    score: float  # similarity - contrast x the best similarity of another artefact (module doc)
    photo_id: int  # the photo that gave that score
    rank: int  # 0 = best artefact
    similarity: float = math.nan  # best cosine over the artefact's photos


class EmbedsImages(Protocol):
    """What the index needs of a descriptor (models.descriptor.Descriptor satisfies it)."""

    @property
    def card(self) -> Any: ...

    def embed(self, images: list[Image.Image]) -> np.ndarray: ...


def _as_vectors(vectors: np.ndarray, dim: int) -> np.ndarray:
    v = np.ascontiguousarray(np.asarray(vectors, dtype=np.float32))
    if v.ndim != 2 or v.shape[1] != dim:
        raise BadInputError(f"expected vectors of shape (n, {dim}), got {v.shape}")
    if not np.isfinite(v).all():
        raise BadInputError("vectors contain NaN or infinite values")
    return v


def choose_kind(n_photos: int) -> tuple[str, dict[str, int]]:
    """The index kind (and its options) for a gallery of ``n_photos``: exact below the cut-over."""
    if n_photos <= AUTO_EXACT_MAX_PHOTOS:
        return "flat", {}
    kind, options = AUTO_APPROXIMATE
    return kind, dict(options)


def _resolve_kind(kind: str, n_photos: int, options: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    if kind != AUTO:
        return kind, options
    chosen, defaults = choose_kind(n_photos)
    return chosen, {**defaults, **options}


def _pq_subquantizers(dim: int) -> int:
    # ~8 dims per sub-vector: 16x smaller than float32, still a usable approximation
    for m in (64, 48, 32, 16, 8, 4, 2):
        if dim % m == 0 and dim // m >= 4:
            return m
    return 1


class GalleryIndex:
    def __init__(
        self,
        card: Any,
        *,
        kind: str = "flat",
        threshold: float | None = None,
        hnsw_m: int = 16,
        ef_search: int = 64,
        nprobe: int = 16,
        contrast: float = DEFAULT_CONTRAST,
        views: GalleryViews | Mapping[str, Any] | None = None,
    ) -> None:
        if kind == AUTO:
            raise BadInputError("kind 'auto' is chosen from the gallery's size: use from_vectors or build")
        if kind not in KINDS:
            raise BadInputError(f"unknown index kind {kind!r}; known: {', '.join(KINDS)} (or {AUTO})")
        self.card: dict[str, Any] = card_dict(card)
        self.dim = int(self.card["dim"])
        if self.dim <= 0:
            raise BadInputError(f"model card has no usable dim ({self.dim})")
        if not 0.0 <= contrast < 1.0:
            raise BadInputError(f"score contrast must be within [0, 1), got {contrast}")
        self.kind = kind
        self.contrast = float(contrast)
        self.views = views if isinstance(views, GalleryViews) else GalleryViews.from_dict(views)
        self.threshold = threshold
        self.calibration: dict[str, Any] = {}
        self.artefact_of: dict[int, str] = {}
        self.tombstones: set[int] = set()  # hnsw only: removed photos still in the graph
        self.hnsw_m = hnsw_m
        self.ef_search = ef_search
        self.nprobe = nprobe
        self.created_at = datetime.now(UTC)
        self.version = ""
        self._index: Any = None if kind in IVF_KINDS else self._empty()  # faiss.IndexIDMap2
        self._refresh_version()

    # ---- construction -------------------------------------------------------------------

    def _empty(self, train: np.ndarray | None = None) -> Any:
        inner: Any  # faiss's SWIG classes carry no useful static types
        if self.kind == "flat":
            inner = faiss.IndexFlatIP(self.dim)
        elif self.kind == "hnsw":
            inner = faiss.IndexHNSWFlat(self.dim, self.hnsw_m, faiss.METRIC_INNER_PRODUCT)
            inner.hnsw.efConstruction = 40  # build time grows with it; 40 keeps top-1 exact in the bench
        elif self.kind == "ivfflat":
            assert train is not None
            # ~sqrt(n) lists, full vectors in them: exact scores for every photo in the probed lists
            nlist = int(min(4096, max(16, math.sqrt(len(train)))))
            quantizer = faiss.IndexFlatIP(self.dim)
            inner = faiss.IndexIVFFlat(quantizer, self.dim, nlist, faiss.METRIC_INNER_PRODUCT)
            inner.cp.niter = 15
            inner.cp.min_points_per_centroid = 8
            sample = max(IVFPQ_MIN_PHOTOS, 20 * nlist)
            if len(train) > sample:
                train = train[np.sort(np.random.default_rng(0).choice(len(train), sample, replace=False))]
            inner.train(train)
        else:
            assert train is not None
            # ~sqrt(n) lists; k-means (lists and PQ codebooks) on a sample of ~20 points per list
            # and 15 iterations: training is the slow part, and more barely moves recall
            nlist = int(min(1024, max(16, math.sqrt(len(train)))))
            quantizer = faiss.IndexFlatIP(self.dim)
            inner = faiss.IndexIVFPQ(
                quantizer, self.dim, nlist, _pq_subquantizers(self.dim), 8, faiss.METRIC_INNER_PRODUCT
            )
            inner.cp.niter = 15
            inner.pq.cp.niter = 15
            inner.cp.min_points_per_centroid = 8  # a ~20-point sample per list is enough
            sample = max(IVFPQ_MIN_PHOTOS, 20 * nlist)
            if len(train) > sample:
                train = train[np.sort(np.random.default_rng(0).choice(len(train), sample, replace=False))]
            inner.train(train)
        return faiss.IndexIDMap2(inner)

    @classmethod
    def from_vectors(
        cls,
        card: Any,
        photo_ids: Sequence[int] | np.ndarray,
        artefact_ids: Sequence[str],
        vectors: np.ndarray,
        *,
        kind: str = "flat",
        calibrate: bool = True,
        **options: Any,
    ) -> GalleryIndex:
        """An index over already computed vectors; ``calibrate`` sets the threshold from them.
        ``kind="auto"``: exact up to ``AUTO_EXACT_MAX_PHOTOS`` photos, else ``AUTO_APPROXIMATE``."""
        kind, options = _resolve_kind(kind, len(vectors), options)
        index = cls(card, kind=kind, **options)
        index.add(photo_ids, artefact_ids, vectors)
        if calibrate:
            index.calibrate(vectors, artefact_ids)
        return index

    @classmethod
    def build(
        cls,
        descriptor: EmbedsImages,
        photos: Iterable[GalleryPhoto],
        *,
        kind: str = "flat",
        batch_size: int = 32,
        progress: Callable[[Iterable[Any]], Iterable[Any]] | None = None,
        calibrate: bool = True,
        **options: Any,
    ) -> GalleryIndex:
        """Embed gallery photos with ``descriptor`` and index them.

        ``calibrate``: set the threshold from re-staged copies of these photos (see
        :mod:`matcher.threshold`; embeds up to ~2 more images per gallery photo).
        """
        items = list(photos)
        if not items:
            raise BadInputError("cannot build a gallery index from no photos")
        images = [p.pixels() for p in items]
        artefact_ids = [p.artefact_id for p in items]
        kind, options = _resolve_kind(kind, len(items), options)
        views = options.get("views")
        views = views if isinstance(views, GalleryViews) else GalleryViews.from_dict(views)
        vectors = embed_views(descriptor, images, views, batch_size=batch_size, progress=progress)
        index = cls.from_vectors(
            descriptor.card,
            [p.key() for p in items],
            artefact_ids,
            vectors,
            kind=kind,
            calibrate=False,
            **options,
        )
        if calibrate:
            index.calibrate(
                vectors,
                artefact_ids,
                descriptor=descriptor,
                images=images,
                batch_size=batch_size,
                progress=progress,
            )
        return index

    def calibrate(
        self,
        vectors: np.ndarray,
        artefact_ids: Sequence[str],
        *,
        descriptor: EmbedsImages | None = None,
        images: Sequence[Image.Image] | None = None,
        batch_size: int = 32,
        progress: Callable[[Iterable[Any]], Iterable[Any]] | None = None,
    ) -> None:
        """Set ``threshold`` from the gallery alone: re-staged copies of ``images`` when given
        with their ``descriptor``, else the gallery vectors themselves (leave-one-out)."""
        prior = usable_prior(descriptor, self.views.to_dict()) if descriptor is not None else None
        if descriptor is not None and images is not None:
            result = calibrate_with_descriptor(
                lambda imgs: embed_images(descriptor, imgs, batch_size=batch_size, progress=progress),
                images,
                vectors,
                artefact_ids,
                contrast=self.contrast,
                prior=prior,
            )
        else:
            result = calibrate_threshold(vectors, artefact_ids, contrast=self.contrast, prior=prior)
        self.apply_calibration(result)

    @property
    def notify_threshold(self) -> float | None:
        """The stricter level for e-mail and Slack (:mod:`matcher.threshold`); the queue's ``threshold``
        where the calibration has none (indexes calibrated before there were two levels)."""
        value = self.calibration.get("notify_threshold")
        return float(value) if value is not None else self.threshold

    def apply_calibration(self, calibration: Any, **extra: Any) -> None:
        """Take ``threshold`` and the record of how it was found from a :class:`matcher.threshold.Calibration`
        (``extra``: more to record beside it)."""
        self.threshold = calibration.threshold
        self.calibration = {**calibration.to_dict(), **extra}

    def embed_gallery(
        self,
        descriptor: EmbedsImages,
        images: Sequence[Image.Image],
        *,
        batch_size: int = 32,
        progress: Callable[[Iterable[Any]], Iterable[Any]] | None = None,
    ) -> np.ndarray:
        """Vectors for gallery photos to :meth:`add`, embedded with this index's views."""
        return embed_views(descriptor, images, self.views, batch_size=batch_size, progress=progress)

    # ---- maintenance --------------------------------------------------------------------

    def add(self, photo_ids: Sequence[int] | np.ndarray, artefact_ids: Sequence[str], vectors: np.ndarray) -> None:
        ids = np.asarray(photo_ids, dtype=np.int64).reshape(-1)
        v = _as_vectors(vectors, self.dim)
        if not (len(ids) == len(artefact_ids) == len(v)):
            raise BadInputError(
                f"add needs as many photo ids ({len(ids)}), artefact ids ({len(artefact_ids)}) and vectors ({len(v)})"
            )
        if len(ids) == 0:
            return
        dup = sorted({int(i) for i in ids if int(i) in self.artefact_of} | _repeated(ids))
        if dup:
            raise BadInputError(f"photo ids already in the index (or repeated): {dup[:10]}")
        if self._index is None:  # ivfpq: the first batch is the training set
            if len(v) < IVFPQ_MIN_PHOTOS:
                raise BadInputError(
                    f"an {self.kind} index needs at least {IVFPQ_MIN_PHOTOS} photos to train on, got {len(v)}; "
                    "use kind='flat' (exact, fast enough for galleries this size)"
                )
            self._index = self._empty(train=v)
        self._index.add_with_ids(v, ids)
        for pid, aid in zip(ids.tolist(), artefact_ids, strict=True):
            self.artefact_of[int(pid)] = str(aid)
        self._refresh_version()

    def remove_artefact(self, artefact_id: str) -> int:
        """Take every photo of ``artefact_id`` out of the index; returns how many were removed."""
        ids = [pid for pid, aid in self.artefact_of.items() if aid == artefact_id]
        if not ids:
            return 0
        self.remove_photos(ids)
        return len(ids)

    def remove_photos(self, photo_ids: Iterable[int]) -> None:
        ids = [int(i) for i in photo_ids if int(i) in self.artefact_of]
        if not ids or self._index is None:
            return
        if self.kind == "hnsw":
            self.tombstones.update(ids)
        else:
            self._index.remove_ids(np.asarray(ids, dtype=np.int64))
        for pid in ids:
            del self.artefact_of[pid]
        if self.kind == "hnsw" and len(self.tombstones) > max(64, self.ntotal // 4):
            self._compact()
        self._refresh_version()

    def vectors(self) -> tuple[np.ndarray, np.ndarray]:
        """(photo ids, their stored vectors) of the live photos, sorted by id (flat and HNSW only:
        IVF-PQ keeps compressed codes, IVF-Flat keeps vectors in lists without a direct map)."""
        if self.kind in IVF_KINDS:
            raise BadInputError(f"an {self.kind} index cannot read its vectors back")
        ids = np.asarray(sorted(self.artefact_of), dtype=np.int64)
        if self._index is None or not len(ids):
            return ids, np.zeros((0, self.dim), dtype=np.float32)
        return ids, np.stack([self._index.reconstruct(int(i)) for i in ids]).astype(np.float32)

    def _compact(self) -> None:
        """Rebuild the HNSW graph without its tombstoned photos (from the vectors it stores)."""
        assert self._index is not None
        keep, vectors = self.vectors()
        self._index = self._empty()
        if len(keep):
            self._index.add_with_ids(vectors, keep)
        self.tombstones.clear()

    @property
    def ntotal(self) -> int:
        """Photos searchable (tombstoned ones excluded)."""
        return len(self.artefact_of)

    @property
    def artefacts(self) -> set[str]:
        return set(self.artefact_of.values())

    def restamp(self) -> None:
        """Give the index a new version time stamp (publishing does, so versions never repeat)."""
        self.created_at = datetime.now(UTC)
        self._refresh_version()

    def _refresh_version(self) -> None:
        stamp = self.created_at.strftime("%Y%m%dT%H%M%S")
        self.version = f"{stamp}-{card_version(self.card)}-{self.ntotal}"

    # ---- search -------------------------------------------------------------------------

    def search(self, vectors: np.ndarray, k: int = 5) -> list[list[ArtefactHit]]:
        """For each query vector, its ``k`` best artefacts, scored as the module doc says.

        Fetches ``k' * m`` photos, k' = max(k, 2) (the best *other* artefact is needed for the
        contrast), m = most photos any artefact has: any artefact in the true top-k' has fewer
        than k' other artefacts (<= m photos each) above its best photo, so its best photo is
        within the first ``k' * m`` and the artefact ranking is exact (for the exact ``flat`` kind).
        """
        q = _as_vectors(vectors, self.dim)
        if len(q) == 0 or self.ntotal == 0 or k <= 0 or self._index is None:
            return [[] for _ in range(len(q))]
        per_artefact = max(_counts(self.artefact_of.values()).values())
        fetch = min(self._index.ntotal, max(k, 2) * per_artefact + len(self.tombstones))
        self._set_search_params(fetch)
        scores, ids = self._index.search(q, fetch)
        results = []
        for row_scores, row_ids in zip(scores, ids, strict=True):
            best: dict[str, tuple[float, int]] = {}
            for s, pid in zip(row_scores.tolist(), row_ids.tolist(), strict=True):
                aid = self.artefact_of.get(pid)  # -1 (not enough results) and tombstones map to None
                if aid is not None and aid not in best:
                    best[aid] = (s, pid)
            ranked = sorted(best.items(), key=lambda kv: (-kv[1][0], kv[0]))
            top = [s for _, (s, _) in ranked[:2]] + [0.0, 0.0]
            results.append(
                [
                    ArtefactHit(aid, float(s - self.contrast * top[1 if r == 0 else 0]), int(pid), r, float(s))
                    for r, (aid, (s, pid)) in enumerate(ranked[:k])
                ]
            )
        return results

    def _set_search_params(self, fetch: int) -> None:
        assert self._index is not None
        inner: Any = faiss.downcast_index(self._index.index)
        if self.kind == "hnsw":
            inner.hnsw.efSearch = max(self.ef_search, fetch)
        elif self.kind in IVF_KINDS:
            inner.nprobe = self.nprobe

    def is_alert(self, hit: ArtefactHit) -> bool:
        if self.threshold is None:
            raise BadInputError("this index has no calibrated threshold; build it with calibrate=True")
        return hit.score >= self.threshold

    # ---- persistence --------------------------------------------------------------------

    def meta(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "version": self.version,
            "kind": self.kind,
            "dim": self.dim,
            "card": self.card,
            "card_version": card_version(self.card),
            "created_at": self.created_at.isoformat(),
            "threshold": self.threshold,
            "calibration": self.calibration,
            "n_photos": self.ntotal,
            "n_artefacts": len(self.artefacts),
            "artefact_of": {str(k): v for k, v in sorted(self.artefact_of.items())},
            "tombstones": sorted(self.tombstones),
            "options": {
                "hnsw_m": self.hnsw_m,
                "ef_search": self.ef_search,
                "nprobe": self.nprobe,
                "contrast": self.contrast,
                "views": self.views.to_dict(),
            },
        }

    def save(self, directory: Path) -> Path:
        """Write ``index.faiss`` and ``meta.json`` to ``directory``.

        Each file is written under a temporary name and renamed; meta.json goes last and holds
        the sha256 of index.faiss, so a reader never pairs metadata with another index file.
        """
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        blob = b"" if self._index is None else faiss.serialize_index(self._index).tobytes()
        meta = self.meta()
        meta["index_sha256"] = hashlib.sha256(blob).hexdigest() if blob else None
        atomic_write(directory / INDEX_FILE, blob)
        atomic_write(directory / META_FILE, json.dumps(meta, indent=1).encode())
        return directory

    @classmethod
    def load(cls, directory: Path, *, expect_card: Any = None, expect_card_version: str | None = None) -> GalleryIndex:
        """Read an index; refuses it when built by another descriptor than ``expect_card``.

        ``expect_card`` (ModelCard or dict) compares every field that changes the vectors;
        ``expect_card_version`` compares ``card.version`` (name + weights hash) only.
        """
        directory = Path(directory)
        meta_path, index_path = directory / META_FILE, directory / INDEX_FILE
        if not meta_path.exists() or not index_path.exists():
            raise IndexNotFoundError(f"no gallery index in {directory} (needs {INDEX_FILE} and {META_FILE})")
        try:
            meta = json.loads(meta_path.read_text())
        except (OSError, ValueError) as exc:
            raise IndexNotFoundError(f"unreadable {meta_path}: {exc}") from exc
        if meta.get("format") != FORMAT:
            raise IndexNotFoundError(f"{meta_path}: unsupported index format {meta.get('format')!r}")
        _check_card(meta["card"], expect_card, expect_card_version, directory)
        blob = index_path.read_bytes()
        if (hashlib.sha256(blob).hexdigest() if blob else None) != meta.get("index_sha256"):
            raise IndexNotFoundError(f"{index_path} does not match {META_FILE} (interrupted write?)")
        options = dict(meta.get("options", {}))
        options.setdefault("contrast", 0.0)  # indexes from before the contrast score hold plain cosines
        index = cls(meta["card"], kind=meta["kind"], threshold=meta.get("threshold"), **options)
        index.calibration = meta.get("calibration") or {}
        index.created_at = datetime.fromisoformat(meta["created_at"])
        index.artefact_of = {int(k): v for k, v in meta["artefact_of"].items()}
        index.tombstones = {int(i) for i in meta.get("tombstones", [])}
        if blob:
            index._index = faiss.deserialize_index(np.frombuffer(blob, dtype=np.uint8))
        index.version = meta["version"]
        return index


def embed_images(
    descriptor: EmbedsImages,
    images: Sequence[Image.Image],
    *,
    batch_size: int = 32,
    progress: Callable[[Iterable[Any]], Iterable[Any]] | None = None,
) -> np.ndarray:
    """Embed in batches (a progress callback wraps the batch iterator), as one float32 array."""
    dim = int(card_dict(descriptor.card)["dim"])
    starts: Iterable[int] = range(0, len(images), batch_size)
    if progress is not None:
        starts = progress(starts)
    parts = [np.asarray(descriptor.embed(list(images[i : i + batch_size])), dtype=np.float32) for i in starts]
    return np.ascontiguousarray(np.concatenate(parts)) if parts else np.zeros((0, dim), np.float32)


def _check_card(built_by: Mapping[str, Any], expect_card: Any, expect_version: str | None, where: Path) -> None:
    if expect_version is not None and card_version(built_by) != expect_version:
        raise IndexMismatchError(
            f"the index in {where} was built by descriptor {card_version(built_by)}, "
            f"but the descriptor in use is {expect_version}; rebuild the index with `lootwatch index build`"
        )
    if expect_card is not None:
        want = card_dict(expect_card)
        differ = [f for f in IDENTITY_FIELDS if want.get(f) != built_by.get(f)]
        if differ:
            detail = ", ".join(f"{f}: index {built_by.get(f)!r} != in use {want.get(f)!r}" for f in differ)
            raise IndexMismatchError(
                f"the index in {where} was built by another descriptor ({card_version(built_by)}, in use: "
                f"{card_version(want)}; {detail}); rebuild the index with `lootwatch index build`"
            )


def _counts(values: Iterable[str]) -> dict[str, int]:
    out: dict[str, int] = {}
    for v in values:
        out[v] = out.get(v, 0) + 1
    return out


def _repeated(ids: np.ndarray) -> set[int]:
    uniq, n = np.unique(ids, return_counts=True)
    return {int(i) for i in uniq[n > 1]}


__all__ = ["ArtefactHit", "GalleryIndex", "KINDS", "card_dict", "card_version", "embed_images"]
