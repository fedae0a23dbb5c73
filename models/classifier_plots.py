"""t-SNE and PCA maps of the classifier's penultimate features (the 2048-d head layer).

Points are coloured by collection (or any label), so one sees whether collections and artefacts
form separate clusters. Written as matplotlib PNGs.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from lootwatch.models.classifier import LoadedClassifier
from PIL import Image


def embedding_plots(
    clf: LoadedClassifier,
    images: Sequence[Image.Image],
    labels: Sequence[str],
    out_dir: str | Path,
    seed: int = 0,
) -> list[Path]:
    """``pca.png`` and ``tsne.png`` in ``out_dir`` of the penultimate features of ``images``."""
    feats = clf.penultimate(list(images))
    return plot_features(feats, labels, out_dir, seed)


def plot_features(feats: np.ndarray, labels: Sequence[str], out_dir: str | Path, seed: int = 0) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from sklearn.decomposition import PCA
    from sklearn.manifold import TSNE

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    x = np.asarray(feats, dtype=np.float32)
    pca = PCA(n_components=2, random_state=seed).fit_transform(x)
    perplexity = float(max(2, min(30, (len(x) - 1) // 3)))
    tsne = TSNE(n_components=2, perplexity=perplexity, init="pca", random_state=seed).fit_transform(x)
    written = []
    for name, xy in (("pca", pca), ("tsne", tsne)):
        fig, ax = plt.subplots(figsize=(6, 5), dpi=100)
        for lab in sorted(set(labels)):
            m = np.array([v == lab for v in labels])
            ax.scatter(xy[m, 0], xy[m, 1], s=12, label=lab or "(none)")
        ax.set_title(f"{name.upper()} of classifier penultimate features")
        ax.legend(fontsize=7, markerscale=1.5, loc="best")
        fig.tight_layout()
        path = out / f"{name}.png"
        fig.savefig(path)
        plt.close(fig)
        written.append(path)
    return written


def classifier_figures(
    clf: object,
    images: Sequence[Image.Image],
    labels: Sequence[str],
    out_dir: str | Path,
    n_saliency: int = 6,
) -> list[Path]:
    """PCA + t-SNE of penultimate features and ``n_saliency`` saliency overlays, spread over ``images``.

    ``clf`` is a ``LoadedClassifier`` or an ``Ensemble`` (its first member is drawn: the feature
    spaces of several backbones cannot share one map).
    """
    from lootwatch.models.classifier import Ensemble
    from lootwatch.models.classifier_saliency import save_saliency

    member = clf.members[0] if isinstance(clf, Ensemble) else clf
    if not isinstance(member, LoadedClassifier):
        raise TypeError(f"expected a LoadedClassifier or Ensemble, got {type(clf).__name__}")
    out = Path(out_dir)
    written = embedding_plots(member, images, labels, out)
    if images and n_saliency > 0:
        step = max(1, len(images) // n_saliency)
        for i in range(0, len(images), step)[:n_saliency]:
            written.append(save_saliency(member, images[i], out / f"saliency_{i:03d}.png"))
    return written
