"""The match worker's decode: a large JPEG at a reduced DCT scale that still covers the model input."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from lootwatch.core.errors import BadInputError
from lootwatch.core.images import vet_image


def _photo(w: int, h: int, fmt: str = "JPEG", orientation: int | None = None) -> bytes:
    img = Image.linear_gradient("L").resize((w, h)).convert("RGB")
    exif = Image.Exif()
    if orientation is not None:
        exif[0x0112] = orientation
    buf = io.BytesIO()
    img.save(buf, fmt, exif=exif.tobytes()) if orientation is not None else img.save(buf, fmt)
    return buf.getvalue()


def test_large_jpeg_is_decoded_reduced_but_covers_the_model_input() -> None:
    data = _photo(1200, 900)
    v = vet_image(data, min_side=224)
    assert v.image.size == (300, 225)  # 1/4 scale: 1/8 would be under 224 a side
    assert (v.width, v.height) == (1200, 900)  # the photo's size, not the decoded one
    assert len(v.phash) == 16
    full = vet_image(data)
    assert full.image.size == (1200, 900) and (full.width, full.height) == (1200, 900)


def test_small_jpegs_and_other_formats_decode_at_full_size() -> None:
    assert vet_image(_photo(320, 240), min_side=224).image.size == (320, 240)
    assert vet_image(_photo(1200, 900, "PNG"), min_side=224).image.size == (1200, 900)


def test_sideways_exif_orientation_still_applies() -> None:
    v = vet_image(_photo(1200, 900, orientation=6), min_side=224)
    assert v.image.size == (225, 300) and (v.width, v.height) == (900, 1200)


def test_truncated_jpeg_is_still_refused_at_a_reduced_scale() -> None:
    data = _photo(1200, 900)
    for side in (None, 224):  # every coefficient is still read: the missing half is found either way
        with pytest.raises(BadInputError, match="truncated"):
            vet_image(data[: len(data) // 2], min_side=side)
