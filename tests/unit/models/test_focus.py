from __future__ import annotations

import numpy as np
import pytest
from lootwatch.models.focus import focus_object, object_box
from PIL import Image

OBJECT = (150, 110, 230, 200)  # left, top, right, bottom of the painted object in a 400x300 photo


def photo(backdrop: np.ndarray, box: tuple[int, int, int, int] = OBJECT) -> Image.Image:
    arr = backdrop.copy()
    x0, y0, x1, y1 = box
    arr[y0:y1, x0:x1] = (40, 160, 60)  # a green object
    arr[y0 + 20 : y0 + 40, x0:x1] = (230, 90, 160)  # with a pink band
    return Image.fromarray(arr)


def plain(colour: tuple[int, int, int] = (200, 190, 170)) -> np.ndarray:
    return np.broadcast_to(np.array(colour, np.uint8), (300, 400, 3)).copy()


def gradient() -> np.ndarray:
    t = np.linspace(0, 1, 300, dtype=np.float32)[:, None, None]
    top, bottom = np.array([90, 120, 200], np.float32), np.array([220, 200, 120], np.float32)
    return np.broadcast_to(top * (1 - t) + bottom * t, (300, 400, 3)).astype(np.uint8)


def table_edge() -> np.ndarray:
    arr = plain((180, 180, 190))
    arr[180:] = (120, 80, 50)  # wooden surface below a wall
    return arr


def cloth() -> np.ndarray:
    rng = np.random.default_rng(3)
    return np.clip(plain((150, 40, 120)).astype(np.float32) + rng.normal(0, 8, (300, 400, 3)), 0, 255).astype(np.uint8)


def contains(outer: tuple[int, int, int, int], inner: tuple[int, int, int, int], slack: int = 6) -> bool:
    return (
        outer[0] <= inner[0] + slack
        and outer[1] <= inner[1] + slack
        and outer[2] >= inner[2] - slack
        and outer[3] >= inner[3] - slack
    )


@pytest.mark.parametrize("backdrop", [plain, gradient, table_edge, cloth], ids=lambda f: f.__name__)
def test_the_box_holds_the_object_and_drops_most_of_the_backdrop(backdrop: object) -> None:
    img = photo(backdrop())  # type: ignore[operator]
    box = object_box(img)
    assert box is not None
    assert contains(box, OBJECT)
    area = (box[2] - box[0]) * (box[3] - box[1])
    assert area < 0.35 * img.size[0] * img.size[1]
    assert focus_object(img).size == (box[2] - box[0], box[3] - box[1])


def test_studio_photo_on_black_crops_to_its_object() -> None:
    box = object_box(photo(plain((0, 0, 0))))
    assert box is not None and contains(box, OBJECT)


@pytest.mark.parametrize(
    "img",
    [
        Image.new("RGB", (300, 200), (128, 128, 128)),  # nothing on the backdrop
        photo(plain(), (10, 10, 390, 290)),  # the object fills the frame: nothing to zoom
        Image.fromarray(np.random.default_rng(0).integers(0, 256, (200, 300, 3), dtype=np.uint8)),  # busy pattern
        Image.new("RGB", (5, 5), (10, 200, 10)),  # too small to read
    ],
    ids=["empty", "fills-frame", "busy", "tiny"],
)
def test_an_unreadable_backdrop_keeps_the_whole_photo(img: Image.Image) -> None:
    assert object_box(img) is None
    assert focus_object(img) is img


def test_greyscale_and_alpha_photos_are_read_as_rgb() -> None:
    img = photo(plain())
    for mode in ("L", "RGBA", "P"):
        assert object_box(img.convert(mode)) is not None
