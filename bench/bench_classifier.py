"""Train the instance classifier on a benchmark's gallery and compare classifier / descriptor / fusion,
and the "deployed" scoring the held-out fusion check chose on gallery views alone.

    PYTHONPATH=. .venv/bin/python bench/bench_classifier.py ../shared/data/bench-coil-dev \
        --negatives ../shared/data/coil100-train --out /tmp/clf/bench.pt --json /tmp/clf/bench.json

Listing photos are only scored, never trained or calibrated on.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

import torch


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("bench", type=Path)
    ap.add_argument("--out", type=Path, required=True, help="classifier checkpoint (reused if present)")
    ap.add_argument("--negatives", type=Path, default=None)
    ap.add_argument("--descriptor", default="default", help="the descriptor fused with (and judged against)")
    ap.add_argument("--backbone", default="tf_efficientnet_lite0")
    ap.add_argument("--trainable-stages", type=int, default=None)
    ap.add_argument("--views", type=int, default=None)
    ap.add_argument("--size", type=int, default=None)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--json", type=Path, default=None)
    ap.add_argument("--plots", type=Path, default=None, help="folder for pca/tsne and saliency PNGs")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)

    from lootwatch.matcher.benchmark import read_benchmark
    from lootwatch.matcher.evaluate import BenchImages
    from lootwatch.matcher.fusion import (
        RULES,
        classification_tables,
        classifier_runs,
        fuse,
        fusion_judge,
        run_from_scores,
    )
    from lootwatch.models.classifier import load_classifiers
    from lootwatch.models.classifier_train import benchmark_config, train_classifier
    from lootwatch.models.descriptor import load_descriptor

    bench = read_benchmark(args.bench)
    descriptor = load_descriptor(args.descriptor)
    train_s = 0.0
    if not args.out.exists():
        cfg = benchmark_config(backbone=args.backbone, negatives=args.negatives)
        if args.trainable_stages is not None:
            cfg.trainable_stages = args.trainable_stages
        if args.views is not None:
            cfg.views_per_photo = args.views
        if args.size:
            cfg.input_size = (args.size, args.size)
        t = time.monotonic()
        # the held-out fusion check (gallery views only) is recorded in the card: the "deployed" run
        train_classifier(bench.root / "gallery.csv", args.out, cfg, say=print, judge=fusion_judge(descriptor))
        train_s = time.monotonic() - t
    images = BenchImages.load(bench)
    clf = load_classifiers([args.out])
    runs, fs = classifier_runs(images, clf, descriptor)
    for rule in RULES:
        for w in (0.3, 0.5, 0.7):
            runs.append(
                run_from_scores(
                    images,
                    fuse(fs.classifier, fs.descriptor, w, rule),
                    fs.classes,
                    name=f"fusion {rule} w={w}",
                    card={},
                    calibration={},
                    threshold=0.5,
                )
            )
    print(f"training {train_s:.0f} s; {fs.seconds}")
    print(f"{'run':34s} top1   top5   AP     R@P95  FP@R90 P@.5   R@.5   FPr@.5")
    for r in runs:
        m = r.metrics
        vals = [
            m.top1,
            m.top5,
            m.ap,
            m.r_at_p95,
            m.fp_at_r90,
            m.precision_at_threshold,
            m.recall_at_threshold,
            m.fp_rate_at_threshold,
        ]
        print(
            f"{r.name[:34]:34s} "
            + " ".join(f"{v:.3f}" if v is not None and not math.isnan(v) else " nan " for v in vals)
        )
    tables = classification_tables(images, fs, fuse(fs.classifier, fs.descriptor))
    for model, rep in tables.items():
        o = rep["overall"]
        print(
            f"{model:10s} top1 {o['top1']:.3f} top3 {o['top3']:.3f} "
            f"top5 {o['top5']:.3f} top10 {o['top10']:.3f} "
            f"P {o['precision']:.3f} R {o['recall']:.3f} F1 {o['f1']:.3f}"
        )
    if args.plots:
        from lootwatch.models.classifier import LoadedClassifier
        from lootwatch.models.classifier_plots import embedding_plots
        from lootwatch.models.classifier_saliency import save_saliency

        assert isinstance(clf, LoadedClassifier)
        col = bench.collection_of
        labels = [col.get(r.artefact_id, "") if r.artefact_id else "unprotected" for r in bench.listings]
        written = embedding_plots(clf, images.listings, labels, args.plots)
        for i in range(0, len(images.listings), 40):
            written.append(save_saliency(clf, images.listings[i], args.plots / f"saliency_{i:03d}.png"))
        print("wrote", ", ".join(str(p) for p in written))
    if args.json:
        args.json.write_text(
            json.dumps(
                {"runs": [r.to_dict() for r in runs], "classification": tables, "train_seconds": train_s},
                indent=1,
                default=str,
            )
        )


if __name__ == "__main__":
    main()
