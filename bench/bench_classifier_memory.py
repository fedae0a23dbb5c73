"""Peak resident memory of a classifier training against gallery size: streamed views vs the old view cache.

Run: ``nice -n 5 .venv/bin/python bench/bench_classifier_memory.py [--sizes 40,80,160] [--old-commit ce4c9e4]``

Each training runs in a fresh process (``ru_maxrss`` is per process) on real photos: the first
``n`` photos of ``../shared/data/antiquities-train`` (whole objects, catalogue photos up to 480 px),
with the settings ``lootwatch eval --train-classifier`` uses (``benchmark_config``: 160 px) but
``--views`` listing-style views per photo (12 by default, as training uses) and one epoch (memory is reached while
the views are encoded; more epochs add time, not memory). ``old`` is ``models/classifier_train.py``
as of ``--old-commit`` (every augmented view held in memory until encoded), loaded from git beside
the current one; ``new`` is the current module (views streamed through the frozen trunk, features
on disk). ``base`` is the process's resident memory once the model is built, before any view: the
growth above it is what the gallery costs.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def child(method: str, n: int, views: int, old_source: Path | None, data: Path, work: Path) -> dict[str, float]:
    import torch

    torch.set_num_threads(1)
    from lootwatch.models.classifier_data import read_gallery

    if method == "old":
        assert old_source is not None
        spec = importlib.util.spec_from_file_location("old_classifier_train", old_source)
        assert spec is not None and spec.loader is not None
        mod = importlib.util.module_from_spec(spec)
        sys.modules["old_classifier_train"] = mod
        spec.loader.exec_module(mod)
    else:
        import lootwatch.models.classifier_train as mod

    photos = read_gallery(data)[:n]
    from lootwatch.models.classifier import build_classifier

    build_classifier("tf_efficientnet_lite0", 2, "none")  # torch + timm + a trunk in memory: the base
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    cfg = mod.benchmark_config(epochs=1, refit=False, views_per_photo=views, val_views_per_photo=views)
    t0 = time.perf_counter()
    mod.train_classifier(photos, work / f"{method}-{n}.pt", cfg, progress=False, say=lambda _: None)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    objects = len({p.artefact_id for p in photos})
    return {"photos": n, "objects": objects, "base_mb": base, "peak_mb": peak, "seconds": time.perf_counter() - t0}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="40,80,160")
    ap.add_argument("--old-commit", default="ce4c9e4", help="a commit whose classifier_train.py held every view")
    ap.add_argument("--data", type=Path, default=ROOT.parent.parent / "shared" / "data" / "antiquities-train")
    ap.add_argument("--methods", default="old,new")
    ap.add_argument("--views", type=int, default=12, help="listing-style views per photo (training and held out)")
    ap.add_argument("--child", nargs=2, metavar=("METHOD", "N"), help=argparse.SUPPRESS)
    ap.add_argument("--old-source", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--work", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        out = child(args.child[0], int(args.child[1]), args.views, args.old_source, args.data, args.work)
        print(json.dumps(out))
        return
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        old_source = work / "old_classifier_train.py"
        old_source.write_bytes(
            subprocess.run(
                ["git", "show", f"{args.old_commit}:models/classifier_train.py"],
                cwd=ROOT,
                check=True,
                capture_output=True,
            ).stdout
        )
        print(f"{'method':>6} {'photos':>6} {'objects':>7} {'base MB':>8} {'peak MB':>8} {'growth MB':>9} {'s':>6}")
        rows: dict[tuple[str, int], dict[str, float]] = {}
        for n in (int(s) for s in args.sizes.split(",")):
            for method in args.methods.split(","):
                cmd = [sys.executable, __file__, "--child", method, str(n), "--data", str(args.data)]
                cmd += ["--views", str(args.views)]
                cmd += ["--old-source", str(old_source), "--work", str(work)]
                res = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=False)
                if res.returncode:
                    print(f"{method} {n}: failed\n{res.stderr[-2000:]}")
                    continue
                r = json.loads(res.stdout.strip().splitlines()[-1])
                rows[(method, n)] = r
                print(
                    f"{method:>6} {n:>6} {r['objects']:>7} {r['base_mb']:>8.0f} {r['peak_mb']:>8.0f} "
                    f"{r['peak_mb'] - r['base_mb']:>9.0f} {r['seconds']:>6.0f}",
                    flush=True,
                )
        for n in sorted({n for _, n in rows}):
            if ("old", n) in rows and ("new", n) in rows:
                old, new = rows[("old", n)], rows[("new", n)]
                ratio = (new["peak_mb"] - new["base_mb"]) / max(old["peak_mb"] - old["base_mb"], 1e-9)
                print(f"{n} photos: growth new/old {ratio:.3f}")


if __name__ == "__main__":
    main()
