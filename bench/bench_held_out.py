"""Build a benchmark folder (BENCHMARK.md layout) from the objects a descriptor's training held out.

    PYTHONPATH=. .venv/bin/python bench/bench_held_out.py CHECKPOINT --images DIR [--images DIR ...] \
        --out data/held-out-bench [--unprotected-every 3]
    .venv/bin/lootwatch eval data/held-out-bench --descriptor CHECKPOINT --compare

    # the training's own per-epoch validation numbers for any descriptor (same photos, same folds):
    PYTHONPATH=. .venv/bin/python bench/bench_held_out.py CHECKPOINT --images DIR ... --validation SPEC [SPEC ...]

Model selection and the comparison with untrained ImageNet features happen here, on objects the
descriptor never trained on and that no benchmark holds; a benchmark's listings are never looked at.
The held-out objects are read from the checkpoint's card (``extra.validation.held_out_objects``). Each
object keeps up to 4 views as its gallery (catalogue objects: a seeded random choice; turntable
series: evenly spaced) and 2 other views (series: 8, at least 20 degrees from any gallery view) are
re-staged as listing photos (``models.augment.listing_style``); every ``--unprotected-every``-th
object (seeded order) loses its gallery photos and plays an unprotected object. The collection
column is the object's category (``info.json``), for per-category rows. Photos are written as
files under ``--out``: keep that folder out of the repository (antiquity photos are research-only).
"""

from __future__ import annotations

import argparse
import csv
import random
import shutil
from pathlib import Path

from lootwatch.models.augment import listing_style
from lootwatch.models.descriptor import read_checkpoint
from lootwatch.models.training_data import read_training_sets
from lootwatch.models.validation import catalogue_views, gallery_and_query_views
from PIL import Image


def build(checkpoint: Path, sources: list[Path], out: Path, unprotected_every: int = 3, seed: int = 7) -> str:
    card, _ = read_checkpoint(checkpoint)
    held_out = list((card.extra.get("validation") or {}).get("held_out_objects") or [])
    if len(held_out) < 3:
        raise SystemExit(f"{checkpoint}: its card names {len(held_out)} held-out objects; need 3 or more")
    data = read_training_sets(sources)
    if out.exists():
        shutil.rmtree(out)
    (out / "gallery").mkdir(parents=True)
    (out / "listings").mkdir()
    order = sorted(held_out)
    random.Random(seed).shuffle(order)
    unprotected = set(order[::unprotected_every])
    gallery_rows: list[tuple[str, str, str]] = []
    listing_rows: list[tuple[str, ...]] = []
    for n_obj, obj in enumerate(sorted(held_out)):
        views = sorted(data.objects[obj])
        rng = random.Random(seed * 1_000_003 + n_obj)
        if data.kinds.get(obj) == "catalogue":
            g_idx, q_idx = catalogue_views(len(views), rng)
        else:
            g_idx, q_idx = gallery_and_query_views(len(views))
            q_idx = [q_idx[round(i * len(q_idx) / 8)] for i in range(8)] if len(q_idx) > 8 else q_idx
        artefact = "H" + obj.replace("/", "-")
        if obj not in unprotected:
            (out / "gallery" / artefact).mkdir()
            for i in g_idx:
                rel = f"gallery/{artefact}/{views[i].stem}{views[i].suffix.lower()}"
                shutil.copyfile(views[i], out / rel)
                gallery_rows.append((rel, artefact, data.categories.get(obj, "")))
        for i in q_idx:
            with Image.open(views[i]) as img:
                photo = listing_style(img.convert("RGB"), rng)
            listing = f"L{len(listing_rows) + 1:05d}"
            rel = f"listings/{listing}.jpg"
            photo.save(out / rel, "JPEG", quality=90)
            listing_rows.append((rel, listing, "" if obj in unprotected else artefact))
    with (out / "gallery.csv").open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["image", "artefact_id", "collection"])
        w.writerows(gallery_rows)
    with (out / "listings.csv").open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["image", "listing_id", "artefact_id"])
        w.writerows(listing_rows)
    n_prot = len(held_out) - len(unprotected)
    return (
        f"{out}: {n_prot} protected objects ({len(gallery_rows)} gallery photos), {len(unprotected)} unprotected; "
        f"{len(listing_rows)} listing photos"
    )


def validation_numbers(checkpoint: Path, sources: list[Path], spec: str) -> dict[str, float]:
    """The selection metrics training logged per epoch (models.validation), for descriptor ``spec``."""
    import torch
    from lootwatch.models.descriptor import load_descriptor
    from lootwatch.models.validation import METRIC_KEYS, build_validation_set, evaluate_descriptor, selection_score

    card, _ = read_checkpoint(checkpoint)
    training = card.extra.get("training") or {}
    validation = card.extra.get("validation") or {}
    data = read_training_sets(sources)
    held_out = validation["held_out_objects"]
    train_objects = [o for o in data.objects if o not in held_out]
    vset = build_validation_set(
        {o: data.objects[o] for o in held_out},
        distractors={o: data.objects[o] for o in train_objects} if training.get("val_distractors", True) else None,
        seed=int(validation.get("seed") or 0),
        kinds=data.kinds,
        max_queries=8,
    )
    model = load_descriptor(spec)
    model.eval()
    with torch.inference_mode():
        scores = evaluate_descriptor(model, vset, training.get("val_folds"))
    out = {k: round(float(scores[k]), 4) for k in METRIC_KEYS}
    out["score"] = round(selection_score(scores), 4)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkpoint", type=Path)
    parser.add_argument("--images", type=Path, action="append", required=True, help="a training source (repeat)")
    parser.add_argument("--out", type=Path, help="where to write the benchmark folder")
    parser.add_argument("--validation", nargs="+", metavar="SPEC", help="print validation numbers of these instead")
    parser.add_argument("--unprotected-every", type=int, default=3)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    if args.validation:
        for spec in args.validation:
            print(spec, validation_numbers(args.checkpoint, args.images, spec), flush=True)
        return
    if args.out is None:
        parser.error("--out is required to build the benchmark folder")
    print(build(args.checkpoint, args.images, args.out, args.unprotected_every, args.seed))


if __name__ == "__main__":
    main()
