"""``lootwatch eval BENCH_DIR``: score a descriptor (or compare it with baselines) on a benchmark.

Pure files: no database, no queue. Heavy imports (torch, faiss, matplotlib) load inside the command.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.console import Console
from rich.table import Table
from tqdm import tqdm

from lootwatch.cli.context import settings
from lootwatch.core.errors import BadInputError
from lootwatch.core.values import parse_scales
from lootwatch.matcher.benchmark import read_benchmark
from lootwatch.matcher.views import GalleryViews
from lootwatch.models.classifier_data import DEFAULT_MIN_IMAGES, read_gallery, select_artefacts

if TYPE_CHECKING:
    from lootwatch.matcher.evaluate import RunResult
    from lootwatch.matcher.metrics import Metrics


def eval_cmd(
    bench_dir: Path = typer.Argument(..., help="Benchmark folder (gallery.csv, listings.csv; see BENCHMARK.md)."),
    descriptor: str | None = typer.Option(
        None,
        "--descriptor",
        help="Checkpoint path, 'default' or a built-in such as imagenet-lite0-gem "
        "(default: the configured descriptor).",
    ),
    compare: bool = typer.Option(
        False,
        "--compare",
        help="Also score untrained ImageNet features (imagenet-lite0-gem, imagenet-lite2-gem: BENCHMARK.md's "
        "reference rows); with --train-images also train and score the baselines (gem, rmac, spoc, mac, "
        "netvlad, pan-noatt, pan-single) the same way.",
    ),
    train_images: Path | None = typer.Option(
        None,
        "--train-images",
        help="Folder of training photos, one sub-folder per object (--compare trains baselines on it).",
    ),
    epochs: int | None = typer.Option(
        None,
        "--epochs",
        min=1,
        help="Training epochs of each baseline (--compare; default: the descriptor's own, else 3).",
    ),
    checkpoints: Path | None = typer.Option(
        None,
        "--checkpoints",
        help="Where trained baselines are cached (default: <data_dir>/checkpoints/baselines).",
    ),
    retrain: bool = typer.Option(
        False, "--retrain", help="Train baselines (and --train-classifier) again even when cached."
    ),
    json_path: Path | None = typer.Option(None, "--json", help="Write every number (and per-listing scores) here."),
    plots: Path | None = typer.Option(None, "--plots", help="Folder for pr_curve.png and score histograms."),
    device: str | None = typer.Option(None, "--device", help="auto, cpu or cuda (default: the configured device)."),
    batch_size: int = typer.Option(32, "--batch-size", min=1, help="Photos embedded per forward pass."),
    threads: int = typer.Option(0, "--threads", min=0, help="torch CPU threads (0: torch's default)."),
    classifier: list[Path] | None = typer.Option(
        None,
        "--classifier",
        help="Instance classifier checkpoint; repeat for an ensemble (softmax averaged). Adds rows for "
        "the classifier alone and its fusion with the descriptor.",
    ),
    train_classifier: bool = typer.Option(
        False,
        "--train-classifier",
        help="Train a classifier on this benchmark's GALLERY photos only (negatives for open-set "
        "rejection from --train-images if given) and evaluate it as --classifier.",
    ),
    contrast: float | None = typer.Option(
        None,
        "--contrast",
        min=0.0,
        max=0.99,
        help="Artefact score = cosine - this x the best other artefact's cosine (0: plain cosine; "
        "default: the score_contrast setting). Applies to every descriptor row.",
    ),
    gallery_scales: str | None = typer.Option(
        None,
        "--gallery-scales",
        help="Input scales each gallery photo is embedded at, averaged (e.g. 0.75,1,1.25; 1: once); listing "
        "photos are embedded once. Default: the gallery_scales setting, as `index build` uses it.",
    ),
    gallery_mirror: bool | None = typer.Option(
        None,
        "--gallery-mirror/--no-gallery-mirror",
        help="Also average in each gallery photo mirrored. Default: the gallery_mirror setting.",
    ),
    fine_tune_gallery: int = typer.Option(
        0,
        "--fine-tune-gallery",
        min=0,
        help="Also fine-tune a copy of the descriptor for this many triplet steps on re-staged copies of the "
        "benchmark's GALLERY photos (never listing photos), as `index build` does, and add its row (its t "
        "cross-fitted over LOOTWATCH_FINE_TUNE_FOLDS folds); a classifier is fused with this copy.",
    ),
    fusion_weight: float = typer.Option(
        0.5, "--fusion-weight", min=0.0, max=1.0, help="Weight of the classifier in the fusion."
    ),
    fusion_rule: str = typer.Option(
        "logit",
        "--fusion-rule",
        help="logit (log-odds pool of the calibrated posteriors) | mean | geometric; see matcher.fusion.",
    ),
) -> None:
    """Index the benchmark's gallery photos, score every listing photo against them, print the metrics."""
    # cheap checks first: a usage mistake is reported before torch loads
    from lootwatch.matcher.fusion import RULES  # heavy import: faiss

    if fusion_rule not in RULES:
        raise BadInputError(f"--fusion-rule {fusion_rule!r} is not one of {', '.join(RULES)}")
    for ckpt in classifier or []:
        if not ckpt.is_file():
            raise BadInputError(f"--classifier {ckpt} does not exist")
    bench = read_benchmark(bench_dir)
    if train_classifier:  # a gallery too small to train on is refused before any model loads
        select_artefacts(read_gallery(bench.root / "gallery.csv"), DEFAULT_MIN_IMAGES)

    import torch  # heavy import

    from lootwatch.matcher.evaluate import (  # heavy import: faiss
        UNTRAINED_BASELINES,
        BenchImages,
        evaluate_descriptor,
        train_baselines,
        training_options,
    )
    from lootwatch.models.descriptor import load_descriptor  # heavy import: torch

    s = settings()

    views = GalleryViews(
        parse_scales(gallery_scales) if gallery_scales is not None else s.gallery_scales,
        s.gallery_mirror if gallery_mirror is None else gallery_mirror,
    )
    if threads:
        torch.set_num_threads(threads)
    dev = device or s.device
    if dev == "auto":
        dev = "cuda" if torch.cuda.is_available() else "cpu"
    spec = descriptor or s.descriptor
    console = Console()
    if not console.is_terminal:  # piped or logged: do not squeeze the table into 80 columns
        console = Console(width=max(console.width, 200))

    console.print(f"benchmark {bench.root}: {bench.summary()}")
    console.print(f"gallery photos embedded as {views.describe()}; listing photos once")

    def progress(it: Any, desc: str) -> Any:
        return tqdm(it, desc=desc, unit="batch" if desc.startswith("embed") else "photo", leave=False)

    images = BenchImages.load(bench, progress)
    runs: list[RunResult] = []

    scale = s.score_contrast if contrast is None else contrast

    def score(model: Any, name: str, calibration: Any = None) -> Any:
        runs.append(
            evaluate_descriptor(
                images,
                model,
                name=name,
                batch_size=batch_size,
                progress=progress,
                contrast=scale,
                views=views,
                calibration=calibration,
            )
        )
        return model

    def run(spec_or_path: str, name: str) -> Any:
        return score(load_descriptor(spec_or_path, dev), name)

    main_name = spec if not Path(spec).exists() else Path(spec).stem
    main_descriptor = run(spec, main_name)
    if fine_tune_gallery:
        tuned = _fine_tuned(images, spec, fine_tune_gallery, s.fine_tune_folds, scale, views, console.print)
        score(tuned.descriptor, f"{main_name} + gallery fine-tune ({fine_tune_gallery} steps)", tuned.calibration)
        main_descriptor = tuned.descriptor  # what `index build` deploys: the classifier is fused with it
    extra_payload: dict[str, Any] = {}
    clf_paths = list(classifier or [])
    if train_classifier:
        from lootwatch.matcher.fusion import train_for_benchmark  # heavy import: faiss

        out = (checkpoints or s.checkpoints_dir) / f"classifier-{bench.root.name}.pt"
        # the held-out fusion check judges against the descriptor the index deploys, embedded as it embeds
        clf_paths.append(
            train_for_benchmark(
                images,
                out,
                negatives=train_images,
                retrain=retrain,
                say=console.print,
                descriptor=main_descriptor,
                views=views,
            )
        )
    clf_model = None
    if clf_paths:
        from lootwatch.matcher.fusion import classification_tables, classifier_runs, fuse  # heavy import: faiss
        from lootwatch.models.classifier import load_classifiers  # heavy import: torch

        clf_model = load_classifiers(clf_paths, dev)
        extra, fs = classifier_runs(
            images,
            clf_model,
            main_descriptor,
            weight=fusion_weight,
            rule=fusion_rule,
            batch_size=batch_size,
            views=views,
        )
        # extra[1] is the descriptor on its calibrated scale: same ranking as runs[0], not repeated
        runs[1:1] = [extra[0], extra[2], *extra[3:]]  # extra[3]: the deployed choice, when the card has a check
        fused = fuse(fs.classifier, fs.descriptor, fusion_weight, fusion_rule)
        tables = classification_tables(images, fs, fused)
        extra_payload["classification"] = tables
        extra_payload["fusion"] = {"rule": fusion_rule, "weight": fusion_weight, **fs.calibration.to_dict()}
        print_classification(console, tables)
    if compare and train_images is not None:
        card = runs[0].card
        n_epochs = epochs or int((card.get("extra") or {}).get("epochs_done") or 3)
        paths = train_baselines(
            train_images,
            checkpoints or s.checkpoints_dir / "baselines",
            backbone=card.get("backbone", "lite0"),
            epochs=n_epochs,
            retrain=retrain,
            options=training_options(card),  # same recipe as the evaluated descriptor, other head
            log=console.print,
        )
        for arch, path in paths.items():
            run(str(path), f"{arch} (trained, {n_epochs} ep)")
    if compare:
        for baseline in UNTRAINED_BASELINES:
            if baseline != spec:
                run(baseline, f"{baseline} (no training)")

    print_runs(console, runs)
    if json_path is not None:
        payload = {
            "bench": str(bench.root),
            "summary": bench.summary(),
            "runs": [r.to_dict() for r in runs],
            **extra_payload,
        }
        json_path.parent.mkdir(parents=True, exist_ok=True)
        json_path.write_text(json.dumps(payload, indent=1, allow_nan=False))
        console.print(f"wrote {json_path}")
    if plots is not None:
        from lootwatch.matcher.plots import plot_pr, plot_scores, safe_name  # heavy import: matplotlib

        written = [plot_pr(runs, plots / "pr_curve.png")]
        written += [plot_scores(r, plots / f"scores_{safe_name(r.name)}.png") for r in runs]
        if clf_model is not None:
            from lootwatch.models.classifier_plots import classifier_figures  # heavy import: torch

            written += classifier_figures(clf_model, images.listings, _listing_labels(bench), plots, n_saliency=6)
        console.print(f"wrote {', '.join(str(p) for p in written)}")


def _fine_tuned(images: Any, spec: str, steps: int, folds: int, contrast: float, views: Any, say: Any) -> Any:
    """The descriptor fine-tuned on the benchmark's gallery photos (never its listing photos) as `index build`
    does it, with its cross-fitted calibration (:mod:`matcher.tuning`)."""
    from lootwatch.matcher.tuning import tune_on_gallery  # heavy import: faiss
    from lootwatch.models.descriptor import load_descriptor  # heavy import: torch

    return tune_on_gallery(
        lambda: load_descriptor(spec, "cpu"),  # training runs on the CPU (models.train_descriptor)
        images.gallery,
        [row.artefact_id for row in images.bench.gallery],
        steps=steps,
        folds=folds,
        contrast=contrast,
        views=views,
        progress=lambda r: tqdm(r, desc="fine-tune on gallery", unit="step", leave=False),
        say=say,
    )


def _fmt(v: float | None) -> str:
    return "-" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:.3f}"


def _row(label: str, m: Metrics) -> list[str]:
    return [
        label,
        f"{m.n_protected}/{m.n_unprotected}",
        _fmt(m.top1),
        _fmt(m.top5),
        _fmt(m.top10),
        _fmt(m.ap),
        _fmt(m.r_at_p95),
        "nan" if math.isnan(m.fp_at_r90) else _fmt(m.fp_at_r90),
        _fmt(m.notify_threshold),
        _fmt(m.recall_at_notify),
        _fmt(m.fp_rate_at_notify),
        _fmt(m.threshold),
        _fmt(m.precision_at_threshold),
        _fmt(m.recall_at_threshold),
        _fmt(m.fp_rate_at_threshold),
    ]


def print_runs(console: Console, runs: list[RunResult]) -> None:
    table = Table(
        title="listing photos: protected/unprotected; notify = the e-mail / Slack level, t = the review (queue) "
        "level, both set without the listings (matcher.threshold)"
    )
    for col in (
        "descriptor / subset",
        "n",
        "top1",
        "top5",
        "top10",
        "AP",
        "R@P95",
        "FP@R90",
        "notify",
        "R@notify",
        "FP@notify",
        "t",
        "P@t",
        "R@t",
        "FP@t",
    ):
        table.add_column(col, justify="left" if col.startswith("desc") else "right")
    for i, r in enumerate(runs):
        table.add_row(*_row(r.name, r.metrics), style="bold")
        if r.per_listing is not None:
            table.add_row(*_row("  per listing (photos combined)", r.per_listing))
        for coll, m in r.by_collection.items():
            table.add_row(*_row(f"  collection {coll or '(none)'}", m))
        for n, m in sorted(r.by_photos.items(), key=lambda kv: _bucket_order(kv[0])):
            table.add_row(*_row(f"  {n} gallery photos/artefact", m))
        if i < len(runs) - 1:
            table.add_section()
    console.print(table)


def _bucket_order(label: str) -> int:
    digits = "".join(c for c in label.split("-")[0] if c.isdigit())
    return int(digits or 0)


def _listing_labels(bench: Any) -> list[str]:
    col = bench.collection_of
    return [col.get(r.artefact_id, "") or "(none)" if r.artefact_id else "unprotected" for r in bench.listings]


def print_classification(console: Console, tables: dict[str, Any]) -> None:
    """The paper's Tables 3-4 / Fig. 4 shapes: P/R/F1 and top-k per collection and per photo count."""
    table = Table(title="closed-set classification of protected listing photos (macro P/R/F1 over artefacts)")
    for col in ("model / subset", "n", "P", "R", "F1", "top1", "top3", "top5", "top10"):
        table.add_column(col, justify="left" if col.startswith("model") else "right")
    for i, (model, rep) in enumerate(tables.items()):
        rows = [(model, rep["overall"])]
        rows += [(f"  collection {k or '(none)'}", v) for k, v in rep.get("by_collection", {}).items()]
        by_n = rep.get("by_photos_per_artefact", {})
        rows += [(f"  {k} gallery photo(s)/artefact", by_n[k]) for k in sorted(by_n, key=int)]
        for j, (label, m) in enumerate(rows):
            cells = [_fmt(m.get(key)) for key in ("precision", "recall", "f1", "top1", "top3", "top5", "top10")]
            table.add_row(label, str(int(m.get("n", 0))), *cells, style="bold" if j == 0 else None)
        if i < len(tables) - 1:
            table.add_section()
    console.print(table)


def register(app: typer.Typer) -> None:
    app.command("eval")(eval_cmd)
