from __future__ import annotations

import io
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from lootwatch.core.errors import BadInputError
from lootwatch.core.images import check_image, vet_image


def _encode(img: Image.Image, fmt: str, **kw: object) -> bytes:
    buf = io.BytesIO()
    img.save(buf, fmt, **kw)
    return buf.getvalue()


def _photo(mode: str = "RGB", size: tuple[int, int] = (64, 48)) -> Image.Image:
    rng = np.random.default_rng(0)
    arr = rng.integers(0, 255, (size[1], size[0], 3), dtype=np.uint8)
    return Image.fromarray(arr).convert(mode)


def png_bomb(width: int, height: int) -> bytes:
    """A valid PNG header claiming width x height pixels, with a tiny compressed body."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    row = b"\x00" + b"\x00" * 16
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(row)) + chunk(b"IEND", b"")


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "empty"),
        (b"<!DOCTYPE html><html><body>not found</body></html>", "markup"),
        (b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>', "markup"),
        (b"GIF89a-garbage", "corrupt|recognisable"),
        (b"\x00\x01\x02 random bytes", "recognisable"),
    ],
)
def test_refuses_non_images_with_reason(data: bytes, reason: str) -> None:
    with pytest.raises(BadInputError, match=reason):
        vet_image(data)


def test_truncated_jpeg_and_png_are_refused() -> None:
    for fmt in ("JPEG", "PNG"):
        data = _encode(_photo(), fmt)
        with pytest.raises(BadInputError, match="corrupt|truncated"):
            vet_image(data[: len(data) // 2])


def test_decompression_bomb_is_refused_before_decoding() -> None:
    with pytest.raises(BadInputError, match="pixels|bomb"):
        vet_image(png_bomb(50_000, 50_000), max_pixels=50_000_000)


def test_byte_limit() -> None:
    with pytest.raises(BadInputError, match="too large"):
        vet_image(_encode(_photo(), "PNG"), max_bytes=100)


@pytest.mark.parametrize("mode", ["CMYK", "L", "P", "RGBA", "LA", "I;16"])
def test_modes_become_rgb(mode: str) -> None:
    if mode == "I;16":
        img = Image.fromarray((np.arange(64 * 48).reshape(48, 64) * 20).astype(np.uint16))
        data = _encode(img, "PNG")
    elif mode == "CMYK":
        data = _encode(_photo("CMYK"), "JPEG")
    else:
        data = _encode(_photo(mode), "PNG")
    vetted = vet_image(data)
    assert vetted.image.mode == "RGB"
    assert (vetted.width, vetted.height) == (64, 48)
    assert len(vetted.phash) == 16


def test_sixteen_bit_keeps_contrast() -> None:
    ramp = (np.tile(np.arange(64), (48, 1)) * 1000).astype(np.uint16)
    vetted = vet_image(_encode(Image.fromarray(ramp), "PNG"))
    arr = np.asarray(vetted.image)
    assert arr.min() == 0 and arr.max() == 255


def test_exif_rotation_is_applied() -> None:
    img = _photo(size=(80, 40))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees on display
    vetted = vet_image(_encode(img, "JPEG", exif=exif))
    assert (vetted.width, vetted.height) == (40, 80)


def test_animated_gif_and_webp_use_first_frame() -> None:
    frames = [_photo("P"), _photo("P").rotate(90)]
    for fmt in ("GIF", "WEBP"):
        data = _encode(frames[0], fmt, save_all=True, append_images=frames[1:])
        vetted = vet_image(data)
        assert vetted.format == fmt and vetted.image.mode == "RGB"


def test_alpha_is_flattened_on_white() -> None:
    rgba = Image.new("RGBA", (10, 10), (255, 0, 0, 0))
    vetted = vet_image(_encode(rgba, "PNG"))
    assert vetted.image.getpixel((5, 5)) == (255, 255, 255)


# --- check_image: the crawler's vetting, from the header ---------------------------------------
@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "empty"),
        (b"<!DOCTYPE html><html><body>not found</body></html>", "markup"),
        (b"\x00\x01\x02 random bytes", "recognisable"),
        (png_bomb(50_000, 50_000), "pixels|bomb"),
    ],
)
def test_check_image_refuses_what_the_header_shows(data: bytes, reason: str) -> None:
    with pytest.raises(BadInputError, match=reason):
        check_image(data, max_pixels=50_000_000)


def test_check_image_byte_limit() -> None:
    with pytest.raises(BadInputError, match="too large"):
        check_image(_encode(_photo(), "PNG"), max_bytes=100)


def test_check_image_decodes_a_file_that_does_not_look_whole() -> None:
    for fmt in ("JPEG", "PNG"):
        data = _encode(_photo(), fmt)
        with pytest.raises(BadInputError, match="truncated"):  # vet_image's reason, found by decoding
            check_image(data[: len(data) // 2])


def test_check_image_reads_whole_files_without_decoding(monkeypatch: pytest.MonkeyPatch) -> None:
    import lootwatch.core.images as images

    def no_decode(*args: object, **kwargs: object) -> None:
        raise AssertionError("decoded a file that looks whole")

    rotated = Image.Exif()
    rotated[0x0112] = 6
    files = {
        "JPEG": _encode(_photo(size=(80, 40)), "JPEG", exif=rotated),
        "PNG": _encode(_photo(size=(80, 40)), "PNG"),
        "GIF": _encode(_photo("P", size=(80, 40)), "GIF"),
        "WEBP": _encode(_photo(size=(80, 40)), "WEBP"),
    }
    expected = {fmt: (vet_image(data).width, vet_image(data).height) for fmt, data in files.items()}
    monkeypatch.setattr(images, "vet_image", no_decode)
    for fmt, data in files.items():
        header = check_image(data)
        assert header.format == fmt and (header.width, header.height) == expected[fmt]
    assert expected["JPEG"] == (40, 80)  # EXIF orientation applied, as vet_image does


def test_a_truncated_file_with_an_intact_end_passes_the_header_check_but_not_decoding() -> None:
    """What the match worker catches (and records) for the crawler: see tests/fixtures/bad_inputs."""
    from tests.fixtures.bad_inputs.corpus import truncated_png_end_intact

    data = truncated_png_end_intact()
    assert check_image(data).format == "PNG"
    with pytest.raises(BadInputError, match="truncated"):
        vet_image(data)


def test_perceptual_hash_is_imagehash_phash_of_the_reduced_copy() -> None:
    import imagehash

    from lootwatch.core.images import perceptual_hash

    rng = np.random.default_rng(3)
    smooth = Image.linear_gradient("L").resize((300, 225)).convert("RGB")
    images = [smooth, Image.new("RGB", (120, 90), (7, 7, 7)), Image.new("L", (40, 30), 200)]
    images += [Image.fromarray(rng.integers(0, 255, (50 + 37 * i, 90 + 23 * i, 3), dtype=np.uint8)) for i in range(12)]
    for img in images:
        factor = min(img.size) // 64
        expected = str(imagehash.phash(img.reduce(factor) if factor >= 2 else img))
        assert perceptual_hash(img) == expected, img.size
