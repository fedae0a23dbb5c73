"""Descriptor throughput on CPU, as a ratio to the bare backbone forward pass in the same run.

    PYTHONPATH=. .venv/bin/python bench/bench_descriptor.py [SPEC ...] [--batch 16] [--rounds 5] [--threads 2]

For each spec (default: ``default`` and ``imagenet-lite0-gem``) it times, on the same batch:
the trunk alone (backbone forward), the whole descriptor on a tensor (``embed_batch``), and
``embed`` on PIL images (resize + normalise included). Target: descriptor / backbone >= 0.9.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
from PIL import Image

from models.descriptor import load_descriptor


def best_rate(fn, n_images: int, rounds: int) -> float:  # type: ignore[no-untyped-def]
    fn()  # warm-up (allocations, oneDNN primitives)
    times = []
    for _ in range(rounds):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return n_images / min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("specs", nargs="*", default=["default", "imagenet-lite0-gem"])
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    rng = np.random.default_rng(0)
    images = [Image.fromarray(rng.integers(0, 255, (300, 400, 3), dtype=np.uint8)) for _ in range(args.batch)]
    print(f"batch {args.batch}, {args.threads} threads, best of {args.rounds}")
    for spec in args.specs:
        d = load_descriptor(spec)
        x = d.preprocess(images)
        with torch.inference_mode():
            backbone = best_rate(lambda: d.trunk(x), args.batch, args.rounds)  # noqa: B023
            tensor = best_rate(lambda: d.embed_batch(x), args.batch, args.rounds)  # noqa: B023
        pil = best_rate(lambda: d.embed(images), args.batch, args.rounds)  # noqa: B023
        print(
            f"{d.card.version} ({d.card.arch}, {d.card.input_size[0]} px): backbone {backbone:.1f} img/s, "
            f"descriptor {tensor:.1f} img/s (ratio {tensor / backbone:.3f}), "
            f"embed() from PIL {pil:.1f} img/s (ratio {pil / backbone:.3f})"
        )


if __name__ == "__main__":
    main()
