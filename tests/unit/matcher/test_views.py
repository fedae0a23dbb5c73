from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from lootwatch.matcher.index import GalleryIndex
from lootwatch.matcher.store import live_views, publish
from lootwatch.matcher.views import GalleryViews, ViewsError, embed_views
from PIL import Image, ImageOps

from lootwatch.core.gallery_photos import GalleryPhoto
from lootwatch.core.settings import Settings


@pytest.fixture(scope="module")
def lite0():  # noqa: ANN201 - models.descriptor.Descriptor
    from lootwatch.models.descriptor import DEFAULT_BUILTIN, load_descriptor

    return load_descriptor(DEFAULT_BUILTIN)


def coil_photos(coil: Path, n: int = 3) -> list[Image.Image]:
    return [Image.open(coil / f"obj{i + 2:03d}" / "000.png").convert("RGB") for i in range(n)]


def test_sizes_are_the_card_size_times_each_scale_in_multiples_of_32() -> None:
    views = GalleryViews((0.75, 1.0, 1.25))
    assert views.sizes((224, 224)) == [(160, 160), (224, 224), (288, 288)]
    # scale 1 keeps the card's own size even when it is not a multiple of 32; repeats collapse
    assert GalleryViews((1.0, 1.01)).sizes((240, 200)) == [(240, 200), (256, 192)]
    assert GalleryViews((0.25,)).sizes((64, 64)) == [(32, 32)]


def test_plain_views_and_records() -> None:
    assert GalleryViews().plain and GalleryViews().count == 1
    assert GalleryViews.from_dict(None) == GalleryViews()  # indexes from before views: plain vectors
    views = GalleryViews((0.75, 1.0, 1.25), mirror=True)
    assert not views.plain and views.count == 6
    assert GalleryViews.from_dict(views.to_dict()) == views
    assert "6 views" in views.describe() and "mirrored" in views.describe()


@pytest.mark.parametrize("scales", [(), (0.1,), (1.0, 9.0)])
def test_unusable_scales_are_refused(scales: tuple[float, ...]) -> None:
    with pytest.raises(ViewsError):
        GalleryViews(scales)


def test_settings_read_scales_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    assert Settings().gallery_scales == (0.75, 1.0, 1.25) and Settings().gallery_mirror is False
    monkeypatch.setenv("LOOTWATCH_GALLERY_SCALES", "1")
    assert Settings().gallery_scales == (1.0,)
    monkeypatch.setenv("LOOTWATCH_GALLERY_SCALES", "0.5,1")
    monkeypatch.setenv("LOOTWATCH_GALLERY_MIRROR", "true")
    assert Settings().gallery_scales == (0.5, 1.0) and Settings().gallery_mirror is True
    monkeypatch.setenv("LOOTWATCH_GALLERY_SCALES", "big")
    with pytest.raises(ValueError, match="gallery scales"):
        Settings()


def test_plain_views_are_the_descriptor_itself(lite0, coil_dir: Path) -> None:
    images = coil_photos(coil_dir)
    assert np.allclose(embed_views(lite0, images, GalleryViews()), lite0.embed(images), atol=1e-6)


def test_views_are_the_normalised_mean_of_each_scale_and_mirror(lite0, coil_dir: Path) -> None:
    images = coil_photos(coil_dir)
    views = GalleryViews((0.75, 1.0, 1.25), mirror=True)
    got = embed_views(lite0, images, views, batch_size=2)  # batches must not change the result
    mirrored = [ImageOps.mirror(im) for im in images]
    parts = [
        lite0.embed(variant, input_size=size)
        for size in [(160, 160), (224, 224), (288, 288)]
        for variant in (images, mirrored)
    ]
    want = np.sum(parts, axis=0)
    want /= np.linalg.norm(want, axis=1, keepdims=True)
    assert got.shape == (3, lite0.card.dim) and got.dtype == np.float32
    assert np.allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-5)
    assert np.allclose(got, want, atol=1e-5)
    # a different view of the photo, not the same vector: the scales each see the object at another size
    assert not np.allclose(got, lite0.embed(images), atol=1e-3)
    assert np.array_equal(got, embed_views(lite0, images, views, batch_size=2))  # deterministic


def test_a_descriptor_without_input_sizes_is_told_how_to_go_on(hist_descriptor, coil_dir: Path) -> None:
    images = coil_photos(coil_dir, 2)
    with pytest.raises(ViewsError, match="LOOTWATCH_GALLERY_SCALES=1"):
        embed_views(hist_descriptor, images, GalleryViews((0.5, 1.0)))
    # mirroring needs no other input size (and a colour histogram does not see it)
    mirrored = embed_views(hist_descriptor, images, GalleryViews(mirror=True))
    assert np.allclose(mirrored, hist_descriptor.embed(images), atol=1e-6)
    assert embed_views(hist_descriptor, [], GalleryViews((0.75, 1.0))).shape == (0, 64)


def test_index_records_its_views_and_embeds_additions_with_them(lite0, coil_dir: Path, tmp_path: Path) -> None:
    images = coil_photos(coil_dir, 4)
    views = GalleryViews((0.75, 1.0))
    photos = [GalleryPhoto(f"A{i // 2}", photo_id=i + 1, image=im) for i, im in enumerate(images[:3])]
    index = GalleryIndex.build(lite0, photos, calibrate=False, views=views)
    assert index.views == views
    assert np.allclose(index.embed_gallery(lite0, images[:1]), embed_views(lite0, images[:1], views), atol=1e-6)
    assert live_views(tmp_path / "indexes") == GalleryViews()  # nothing published yet: plain
    publish(index, tmp_path / "indexes")
    assert live_views(tmp_path / "indexes") == views
    reloaded = GalleryIndex.load(tmp_path / "indexes" / index.version)
    assert reloaded.views == views
    # the added photo is found as itself: its vector was embedded the way the gallery's were
    reloaded.add([4], ["A1"], reloaded.embed_gallery(lite0, images[3:]))
    hits = reloaded.search(embed_views(lite0, images[3:], views), k=1)
    assert hits[0][0].photo_id == 4 and hits[0][0].similarity == pytest.approx(1.0, abs=1e-4)
