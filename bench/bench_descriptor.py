"""Descriptor throughput on CPU, as a ratio to the bare backbone forward pass in the same run.

    PYTHONPATH=. .venv/bin/python bench/bench_descriptor.py [SPEC ...] [--batch 16] [--rounds 5] [--threads 2]

For each spec (default: ``default`` and ``imagenet-lite0-gem``) it times, on the same batch:
the trunk alone (backbone forward), the whole descriptor on a tensor (``embed_batch``), and
``embed`` on PIL images (resize + normalise included). Target: descriptor / backbone >= 0.9.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import numpy as np
import torch
from lootwatch.models.descriptor import load_descriptor
from PIL import Image


def best_rates(fns: dict[str, Callable[[], object]], n_images: int, rounds: int) -> dict[str, float]:
    """Images/s of each fn, best of ``rounds``; the fns alternate so load changes hit them alike."""
    for fn in fns.values():
        fn()  # warm-up (allocations, oneDNN primitives)
    best = dict.fromkeys(fns, float("inf"))
    for _ in range(rounds):
        for name, fn in fns.items():
            t = time.perf_counter()
            fn()
            best[name] = min(best[name], time.perf_counter() - t)
    return {name: n_images / t for name, t in best.items()}


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
            rate = best_rates(
                {
                    "backbone": lambda: d.trunk(x),  # noqa: B023
                    "descriptor": lambda: d.embed_batch(x),  # noqa: B023
                    "embed": lambda: d.embed(images),  # noqa: B023
                },
                args.batch,
                args.rounds,
            )
        backbone, tensor, pil = rate["backbone"], rate["descriptor"], rate["embed"]
        print(
            f"{d.card.version} ({d.card.arch}, {d.card.input_size[0]} px): backbone {backbone:.1f} img/s, "
            f"descriptor {tensor:.1f} img/s (ratio {tensor / backbone:.3f}), "
            f"embed() from PIL {pil:.1f} img/s (ratio {pil / backbone:.3f})"
        )


if __name__ == "__main__":
    main()
