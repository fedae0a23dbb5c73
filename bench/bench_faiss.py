"""FAISS timings of the gallery index: add and query, flat vs HNSW vs IVF-PQ, 10k / 100k / 1M photos.

Run: ``PYTHONPATH=. .venv/bin/python bench/bench_faiss.py [--sizes 10000,100000,1000000]``.

Data: synthetic 512-d galleries shaped like real ones -- artefacts of 4 photos, each photo its
artefact's centre plus noise (same-artefact cosine ~0.7) -- and queries that are new noisy views
of random artefacts (a listing photo of a protected object). Timings go through
``matcher.index.GalleryIndex`` (what workers run: FAISS + artefact aggregation). Approximate
kinds are printed as ratios against flat measured in the same run, with recall@10: the share
of flat's top-10 artefacts the approximate index also returns (and top-1 agreement).
"""

from __future__ import annotations

import argparse
import gc
import time

import faiss
import numpy as np
from lootwatch.matcher.index import GalleryIndex

DIM = 512
PER_ARTEFACT = 4
NOISE = 0.65  # cosine between two views of an artefact ~ 1 / (1 + NOISE^2)
CARD = {
    "name": "bench-random",
    "kind": "descriptor",
    "arch": "none",
    "backbone": "none",
    "backbone_weights": "none",
    "dim": DIM,
    "input_size": [224, 224],
    "mean": [0, 0, 0],
    "std": [1, 1, 1],
    "weights_sha256": "0" * 64,
}


def normalise(x: np.ndarray) -> np.ndarray:
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    return x


def gallery(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    centres = rng.standard_normal((n // PER_ARTEFACT, DIM), dtype=np.float32)
    x = np.repeat(centres, PER_ARTEFACT, axis=0)
    for start in range(0, n, 100_000):  # in place, in slices: 1M x 512 floats is already 2 GB
        part = x[start : start + 100_000]
        part += NOISE * rng.standard_normal(part.shape, dtype=np.float32)
        normalise(part)
    return x, centres


def queries(centres: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    picked = centres[rng.integers(0, len(centres), n)]
    return normalise(picked + NOISE * rng.standard_normal(picked.shape, dtype=np.float32))


def run(kind: str, vectors: np.ndarray, artefacts: list[str], q: np.ndarray) -> tuple[float, float, list[list[str]]]:
    t0 = time.perf_counter()
    index = GalleryIndex(CARD, kind=kind)
    index.add(np.arange(len(vectors)), artefacts, vectors)
    t_add = time.perf_counter() - t0
    index.search(q[:2], 10)  # warm-up
    t0 = time.perf_counter()
    hits = index.search(q, 10)
    t_query = (time.perf_counter() - t0) / len(q)
    return t_add, t_query, [[h.artefact_id for h in row] for row in hits]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="10000,100000,1000000")
    ap.add_argument("--kinds", default="flat,hnsw,ivfpq")
    ap.add_argument(
        "--hnsw-max", type=int, default=100_000, help="skip HNSW above this size (its build is the slow part)"
    )
    ap.add_argument(
        "--threads", type=int, default=1, help="FAISS OpenMP threads (1: no spin-waiting on a shared machine)"
    )
    args = ap.parse_args()
    faiss.omp_set_num_threads(args.threads)
    rng = np.random.default_rng(0)
    kinds = args.kinds.split(",")
    print(
        f"{'photos':>9} {'kind':>6} {'add s':>8} {'add/flat':>9} {'query ms':>9} {'q/flat':>7} "
        f"{'recall@10':>9} {'top1 agree':>10}"
    )
    began = time.perf_counter()
    for n in (int(s) for s in args.sizes.split(",")):
        vectors, centres = gallery(n, rng)
        artefacts = [f"A{i // PER_ARTEFACT}" for i in range(n)]
        q = queries(centres, 200 if n <= 100_000 else 50, rng)
        flat_add, flat_q, flat_hits = run("flat", vectors, artefacts, q)
        print(
            f"{n:>9} {'flat':>6} {flat_add:>8.2f} {1:>9.2f} {flat_q * 1e3:>9.2f} {1:>7.2f} {1:>9.3f} {1:>10.3f}",
            flush=True,
        )
        for kind in kinds:
            if kind == "flat":
                continue
            if kind == "hnsw" and n > args.hnsw_max:
                print(f"{n:>9} {kind:>6}  skipped (n > --hnsw-max {args.hnsw_max}: build too slow for 2 cores)")
                continue
            t_add, t_q, hits = run(kind, vectors, artefacts, q)
            recall = np.mean([len(set(a) & set(f)) / len(f) for a, f in zip(hits, flat_hits, strict=True)])
            top1 = np.mean([a[:1] == f[:1] for a, f in zip(hits, flat_hits, strict=True)])
            print(
                f"{n:>9} {kind:>6} {t_add:>8.2f} {t_add / flat_add:>9.2f} {t_q * 1e3:>9.2f} "
                f"{t_q / flat_q:>7.2f} {recall:>9.3f} {top1:>10.3f}",
                flush=True,
            )
            gc.collect()
        del vectors, centres
        gc.collect()
    print(f"total {time.perf_counter() - began:.0f} s")


if __name__ == "__main__":
    main()
