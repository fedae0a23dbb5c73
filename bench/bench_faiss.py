"""FAISS on descriptor vectors of real photos: exact vs HNSW vs IVF, top-1 agreement and speed by gallery size.

Run (after ``bench/faiss_real_vectors.py`` has embedded the photos; it caches them under data/):
``nice -n 5 .venv/bin/python bench/bench_faiss.py [--sizes 2000,5000,10000,max] [--pad-to 100000]``

Vectors: every photo of ``/work/shared/data`` and listing-style re-stagings of it (variant 0 the
photo itself, variant v a re-staging), embedded with the default descriptor. A gallery photo is a
vector; its artefact is (object, variant): the re-staged copies of an object's photos stand in for
the photos of other artefacts -- near-duplicates of each other, so this is a hard gallery for an
approximate index (many artefacts almost as close as the best).

Queries, from the training data only (antiquities-train and coil100-train objects, never a
benchmark's listings): re-staged copies of held-out photos (all copies of those photos left out of
the gallery; the rest of their object stays in: a protected object seen from another side) and of
held-out objects (every vector of theirs left out: unprotected objects). Each approximate index is
searched through ``matcher.index.GalleryIndex`` as the worker searches (artefact-level top-k with the
score contrast), and compared with the exact (``flat``) search of the same gallery in the same run:
top-1 agreement = share of queries whose best artefact is the same; speed = query time / flat's.

``--pad-to N`` adds vector-space jitter of real vectors (labelled ``padded`` in the output) to reach
N when fewer real vectors have been embedded: a stand-in for size and speed only, not for re-staged
photos. The descriptor's own per-photo time is measured in the same run: exact search stays the
default while its query time is within 10% of it (the worker's per-photo budget).
"""

from __future__ import annotations

import argparse
import gc
import sys
import time
from pathlib import Path

import faiss
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from faiss_real_vectors import load_vectors  # noqa: E402
from lootwatch.matcher.index import AUTO_EXACT_MAX_PHOTOS, GalleryIndex, choose_kind  # noqa: E402

K = 5  # artefacts a worker keeps per photo
BUDGET = 0.10  # share of the descriptor's per-photo time an index query may take


def card(dim: int) -> dict[str, object]:
    return {
        "name": "bench-real",
        "kind": "descriptor",
        "arch": "none",
        "backbone": "none",
        "backbone_weights": "none",
        "dim": dim,
        "input_size": [224, 224],
        "mean": [0, 0, 0],
        "std": [1, 1, 1],
        "weights_sha256": "0" * 64,
    }


def split(
    vectors: np.ndarray, photo: np.ndarray, variant: np.ndarray, objects: list[str], sources: list[str], seed: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(gallery rows, protected query rows, unprotected query rows)."""
    rng = np.random.default_rng(seed)
    train_objs = sorted(
        {o for o, s in zip(objects, sources, strict=True) if s in ("antiquities-train", "coil100-train")}
    )
    unseen = set(rng.choice(train_objs, max(1, len(train_objs) // 20), replace=False).tolist())
    obj_of_row = np.array([objects[p] for p in photo])
    train_photos = [
        i for i, (o, s) in enumerate(zip(objects, sources, strict=True)) if o in train_objs and o not in unseen
    ]
    held_photos = set(rng.choice(train_photos, max(1, len(train_photos) // 20), replace=False).tolist())
    is_unseen = np.isin(obj_of_row, list(unseen))
    is_held = np.isin(photo, list(held_photos))
    gallery = np.flatnonzero(~is_unseen & ~is_held)
    restaged = variant > 0
    protected = np.flatnonzero(is_held & restaged)
    unprotected = np.flatnonzero(is_unseen & restaged)
    return gallery, protected, unprotected


def search(
    kind: str,
    options: dict[str, int],
    sweep: tuple[str, list[int]] | None,
    dim: int,
    vectors: np.ndarray,
    artefacts: list[str],
    q: np.ndarray,
) -> tuple[float, list[tuple[dict[str, int], float, list[list[str]]]]]:
    """Build one index (add time), then query it at each value of the swept search-time option
    (efSearch / nprobe: they change the search, not the structure)."""
    t0 = time.perf_counter()
    index = GalleryIndex(card(dim), kind=kind, **{k: int(v) for k, v in options.items()})  # type: ignore[arg-type]
    index.add(np.arange(len(vectors)), artefacts, vectors)
    t_add = time.perf_counter() - t0
    out = []
    for value in sweep[1] if sweep else [0]:
        if sweep:
            setattr(index, sweep[0], value)
        index.search(q[:4], K)  # warm-up
        t0 = time.perf_counter()
        hits = index.search(q, K)
        t_query = (time.perf_counter() - t0) / len(q)
        out.append(
            ({**options, **({sweep[0]: value} if sweep else {})}, t_query, [[h.artefact_id for h in r] for r in hits])
        )
    del index
    gc.collect()
    return t_add, out


def descriptor_ms(photos: list[Path]) -> float:
    """Milliseconds per photo of the default descriptor on this CPU, one thread, batches of 16."""
    import torch
    from lootwatch.models.descriptor import load_descriptor
    from PIL import Image

    torch.set_num_threads(1)
    model = load_descriptor("default")
    images = [Image.open(p).convert("RGB") for p in photos[:48]]
    model.embed(images[:16], batch_size=16)  # warm-up
    t0 = time.perf_counter()
    model.embed(images, batch_size=16)
    return 1000 * (time.perf_counter() - t0) / len(images)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--vectors", type=Path, default=Path("data/faiss-vectors"))
    ap.add_argument("--version", default=None, help="descriptor folder under --vectors (default: the only one)")
    ap.add_argument("--sizes", default="2000,5000,10000,max")
    ap.add_argument("--pad-to", type=int, default=0, help="add labelled vector-space jitter up to this size")
    ap.add_argument("--queries", type=int, default=400)
    ap.add_argument("--hnsw", default="16:64,16:128,16:256,32:64,32:128,32:256", help="M:efSearch pairs")
    ap.add_argument("--ivf", default="8,16,32,64", help="nprobe values (ivfflat and ivfpq)")
    ap.add_argument("--threads", type=int, default=1, help="FAISS OpenMP threads (1 on a shared machine)")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    faiss.omp_set_num_threads(args.threads)
    folders = sorted(p.name for p in args.vectors.iterdir() if p.is_dir())
    version = args.version or folders[-1]
    vectors, photo, variant, photos = load_vectors(args.vectors, version)
    vectors = vectors.astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    objects, sources = [p.object_id for p in photos], [p.source for p in photos]
    artefact = np.array([f"{objects[p]}#v{v}" for p, v in zip(photo, variant, strict=True)])
    gallery, protected, unprotected = split(vectors, photo, variant, objects, sources, args.seed)
    rng = np.random.default_rng(args.seed)
    half = args.queries // 2
    q_rows = np.r_[
        rng.choice(protected, min(half, len(protected)), replace=False),
        rng.choice(unprotected, min(half, len(unprotected)), replace=False),
    ]
    q = vectors[q_rows]
    per_photo_ms = descriptor_ms([photos[i].path for i in range(0, len(photos), max(1, len(photos) // 48))])
    print(
        f"descriptor {version}: {len(vectors)} real vectors ({len(photos)} photos x {variant.max() + 1} variants), "
        f"gallery pool {len(gallery)}, queries {len(q)} ({min(half, len(protected))} protected, "
        f"{min(half, len(unprotected))} unprotected); descriptor {per_photo_ms:.1f} ms/photo on this CPU"
    )
    order = gallery[rng.permutation(len(gallery))]
    sizes = [len(order) if s == "max" else int(s) for s in args.sizes.split(",")]
    if args.pad_to > len(order):
        sizes.append(args.pad_to)
    print(f"{'photos':>7} {'kind':>8} {'params':>14} {'add s':>7} {'query ms':>9} {'q/flat':>7} {'top1 agree':>10}")
    hnsw: dict[int, list[int]] = {}
    for pair in args.hnsw.split(","):
        m, ef = pair.split(":")
        hnsw.setdefault(int(m), []).append(int(ef))
    nprobes = [int(p) for p in args.ivf.split(",")]
    flat_ms: dict[int, float] = {}
    chosen: dict[int, tuple[str, str, float, float]] = {}
    for n in sizes:
        padded = n > len(order)
        if padded:
            extra = n - len(order)
            base = vectors[order[rng.integers(0, len(order), extra)]]
            jitter = base + 0.08 * rng.standard_normal(base.shape).astype(np.float32)
            g = np.r_[vectors[order], jitter / np.linalg.norm(jitter, axis=1, keepdims=True)]
            labels = list(artefact[order]) + [f"pad{i // 6}" for i in range(extra)]
        else:
            g, labels = vectors[order[:n]], list(artefact[order[:n]])
        tag = f"{n}{'*' if padded else ''}"
        _, [(_, fq, flat_hits)] = search("flat", {}, None, g.shape[1], g, labels, q)
        flat_ms[n] = fq * 1e3
        print(f"{tag:>7} {'flat':>8} {'':>14} {'':>7} {fq * 1e3:>9.2f} {1:>7.2f} {1:>10.3f}", flush=True)
        builds: list[tuple[str, dict[str, int], tuple[str, list[int]]]] = [
            ("hnsw", {"hnsw_m": m}, ("ef_search", efs)) for m, efs in hnsw.items()
        ]
        if n >= 10_000:
            builds += [(kind, {}, ("nprobe", nprobes)) for kind in ("ivfflat", "ivfpq")]
        for kind, options, sweep in builds:
            t_add, results = search(kind, options, sweep, g.shape[1], g, labels, q)
            for opts, t_q, hits in results:
                agree = float(np.mean([a[:1] == f[:1] for a, f in zip(hits, flat_hits, strict=True)]))
                params = ",".join(f"{k.split('_')[-1]}={v}" for k, v in opts.items())
                print(
                    f"{tag:>7} {kind:>8} {params:>14} {t_add:>7.1f} {t_q * 1e3:>9.2f} {t_q / fq:>7.2f} {agree:>10.3f}",
                    flush=True,
                )
                if agree >= 0.99 and (n not in chosen or t_q / fq < chosen[n][2]):
                    chosen[n] = (kind, params, t_q / fq, agree)
        gc.collect()
    print("\nfastest setting keeping the top-1 artefact of exact search for >= 99% of queries:")
    for n in sizes:
        c = chosen.get(n)
        print(
            f"  {n:>7}{'*' if n > len(order) else ''}: "
            + (f"{c[0]} {c[1]} ({c[2]:.2f}x flat's query time, agreement {c[3]:.3f})" if c else "none")
        )
    # flat search is a scan: its time grows linearly with the gallery; fitted on the sizes measured
    ns = np.array(sorted(flat_ms), dtype=np.float64)
    slope = float(np.polyfit(ns, [flat_ms[int(n)] for n in ns], 1)[0]) if len(ns) > 1 else flat_ms[int(ns[0])] / ns[0]
    cut = BUDGET * per_photo_ms / max(slope, 1e-12)
    print(
        f"\nflat query {slope * 1e3:.3f} ms per 1000 gallery photos; "
        f"{BUDGET:.0%} of the descriptor's {per_photo_ms:.1f} ms/photo is reached near {cut:,.0f} gallery photos "
        f"(matcher.index uses exact search up to {AUTO_EXACT_MAX_PHOTOS:,}; choose_kind({int(cut):,}) = "
        f"{choose_kind(int(cut))[0]})"
    )
    print("* = padded with labelled vector-space jitter of real vectors (size and speed only)")


if __name__ == "__main__":
    main()
