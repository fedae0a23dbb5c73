"""Turn a studio photo into something that looks like an auction-listing photo of the same object.

``listing_style(img, rng)`` re-stages a photo: the object is cut out (studio photos such as COIL's are
shot on black: a brightness threshold gives the mask) and put on a new backdrop, then scaled, shifted,
tilted, re-lit, white-balanced, blurred, noised, watermarked, tightly cropped and JPEG re-encoded.
Everything is driven by ``rng``, so a seed reproduces the same photo.
"""

from __future__ import annotations

import io
import random

import numpy as np
from PIL import Image, ImageDraw, ImageEnhance, ImageFilter, ImageFont

WATERMARKS = ("SOLD", "AUCTION", "lot 42", "(c) gallery", "antiques", "www.example-auction.com", "No. 118")


def object_mask(img: Image.Image, threshold: int = 28) -> Image.Image | None:
    """An 'L' mask of what is brighter than a dark studio backdrop; None when there is no such backdrop."""
    grey = np.asarray(img.convert("L"), dtype=np.uint8)
    mask = grey > threshold
    share = mask.mean()
    if share < 0.01 or share > 0.85:  # nothing found, or not a dark backdrop
        return None
    # median removes speckle; a slight erosion drops the dark fringe left by the black backdrop
    m = Image.fromarray((mask * 255).astype(np.uint8)).filter(ImageFilter.MedianFilter(5))
    return m.filter(ImageFilter.MinFilter(3)).filter(ImageFilter.GaussianBlur(0.8))


def backdrop(size: tuple[int, int], rng: random.Random) -> Image.Image:
    w, h = size
    kind = rng.choice(("plain", "gradient", "cloth", "table"))
    c1 = tuple(rng.randint(40, 250) for _ in range(3))
    if kind == "plain":
        return Image.new("RGB", size, c1)  # type: ignore[arg-type]
    c2 = np.array([rng.randint(20, 250) for _ in range(3)], dtype=np.float32)
    a = np.array(c1, dtype=np.float32)
    if kind == "gradient":
        t = np.linspace(0, 1, h, dtype=np.float32)[:, None, None]
        arr = a * (1 - t) + c2 * t
        arr = np.broadcast_to(arr, (h, w, 3))
    elif kind == "cloth":
        nrng = np.random.default_rng(rng.randrange(2**32))
        noise = nrng.normal(0, 1, (max(h // 8, 1), max(w // 8, 1))).astype(np.float32)
        big = np.asarray(Image.fromarray(noise).resize((w, h), Image.Resampling.BICUBIC), dtype=np.float32)
        arr = a[None, None, :] + big[..., None] * rng.uniform(5, 25)
    else:  # table edge: wall colour above, surface below
        edge = int(h * rng.uniform(0.4, 0.75))
        arr = np.empty((h, w, 3), dtype=np.float32)
        arr[:edge] = a
        arr[edge:] = c2
    return Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8))


def restage(img: Image.Image, rng: random.Random) -> Image.Image:
    """Object on a new backdrop, at a new scale and position."""
    mask = object_mask(img)
    w, h = img.size
    canvas_side = int(max(w, h) * rng.uniform(1.0, 1.8))
    scale = rng.uniform(0.35, 1.0)
    if mask is None:  # not a cut-out-able studio photo: scale and shift on a backdrop instead
        mask = Image.new("L", img.size, 255)
    bbox = mask.getbbox() or (0, 0, w, h)
    obj, objmask = img.crop(bbox), mask.crop(bbox)
    ow, oh = obj.size
    factor = scale * canvas_side / max(ow, oh)
    size = (max(1, int(ow * factor)), max(1, int(oh * factor)))
    obj = obj.resize(size, Image.Resampling.BICUBIC)
    objmask = objmask.resize(size, Image.Resampling.BILINEAR)
    canvas = backdrop((canvas_side, canvas_side), rng)
    x = rng.randint(min(0, canvas_side - size[0]), max(0, canvas_side - size[0]))
    y = rng.randint(min(0, canvas_side - size[1]), max(0, canvas_side - size[1]))
    if rng.random() < 0.6:  # a soft drop shadow, as under studio-ish lighting
        shadow = objmask.filter(ImageFilter.GaussianBlur(max(2, size[0] // 20)))
        dark = Image.new("RGB", size, (0, 0, 0))
        off = (int(size[0] * rng.uniform(-0.08, 0.08)), int(size[1] * rng.uniform(0.02, 0.1)))
        alpha = shadow.point(lambda v: int(v * 0.45))
        canvas.paste(dark, (x + off[0], y + off[1]), alpha)
    canvas.paste(obj, (x, y), objmask)
    return canvas


def tilt(img: Image.Image, rng: random.Random) -> Image.Image:
    """A small rotation and perspective change, as from a hand-held camera."""
    w, h = img.size
    fill = img.getpixel((0, 0))
    img = img.rotate(rng.uniform(-12, 12), resample=Image.Resampling.BICUBIC, fillcolor=fill)
    d = 0.08
    src = [(0, 0), (w, 0), (w, h), (0, h)]
    dst = [(x + rng.uniform(-d, d) * w, y + rng.uniform(-d, d) * h) for x, y in src]
    coeffs = _perspective_coeffs(dst, src)
    bicubic = Image.Resampling.BICUBIC
    return img.transform((w, h), Image.Transform.PERSPECTIVE, coeffs, bicubic, fillcolor=fill)


def _perspective_coeffs(dst: list[tuple[float, float]], src: list[tuple[int, int]]) -> list[float]:
    rows = []
    for (x, y), (u, v) in zip(dst, src, strict=True):
        rows.append([x, y, 1, 0, 0, 0, -u * x, -u * y])
        rows.append([0, 0, 0, x, y, 1, -v * x, -v * y])
    a = np.array(rows, dtype=np.float64)
    b = np.array([c for p in src for c in p], dtype=np.float64)
    return list(np.linalg.solve(a, b))


def relight(img: Image.Image, rng: random.Random) -> Image.Image:
    """Brightness, contrast, saturation and a white-balance cast."""
    img = ImageEnhance.Brightness(img).enhance(rng.uniform(0.7, 1.3))
    img = ImageEnhance.Contrast(img).enhance(rng.uniform(0.75, 1.25))
    img = ImageEnhance.Color(img).enhance(rng.uniform(0.7, 1.3))
    gains = np.array([rng.uniform(0.85, 1.15) for _ in range(3)], dtype=np.float32)
    arr = np.asarray(img, dtype=np.float32) * gains
    return Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8))


def degrade(img: Image.Image, rng: random.Random) -> Image.Image:
    """Blur and sensor noise."""
    if rng.random() < 0.5:
        img = img.filter(ImageFilter.GaussianBlur(rng.uniform(0.3, 1.5)))
    if rng.random() < 0.6:
        nrng = np.random.default_rng(rng.randrange(2**32))
        arr = np.asarray(img, dtype=np.float32)
        arr = arr + nrng.normal(0, rng.uniform(2, 10), arr.shape).astype(np.float32)
        img = Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8))
    return img


def watermark(img: Image.Image, rng: random.Random) -> Image.Image:
    w, h = img.size
    layer = Image.new("RGBA", img.size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(layer)
    try:
        font: ImageFont.ImageFont | ImageFont.FreeTypeFont = ImageFont.load_default(size=max(10, h // 10))
    except TypeError:  # Pillow < 10.1 has no sized default font
        font = ImageFont.load_default()
    shade = rng.choice((255, 0))
    draw.text(
        (rng.uniform(0, w * 0.6), rng.uniform(0, h * 0.85)),
        rng.choice(WATERMARKS),
        fill=(shade, shade, shade, rng.randint(90, 200)),
        font=font,
    )
    return Image.alpha_composite(img.convert("RGBA"), layer).convert("RGB")


def centre_mark(img: Image.Image, rng: random.Random) -> Image.Image:
    """A large semi-transparent mark across the centre, as image portals and auction houses stamp
    on every photo; trained with it on some photos of an object and not others, the descriptor learns
    that a mark shared by unrelated photos says nothing about the object."""
    w, h = img.size
    layer = Image.new("RGBA", img.size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(layer)
    text = rng.choice(WATERMARKS + ("MUSEUM", "collection", "(c) photo archive"))
    size = max(10, int(min(w, h) * rng.uniform(0.08, 0.16)))
    try:
        font: ImageFont.ImageFont | ImageFont.FreeTypeFont = ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1 has no sized default font
        font = ImageFont.load_default()
    left, top, right, bottom = draw.textbbox((0, 0), text, font=font)
    x = (w - (right - left)) / 2 + rng.uniform(-0.05, 0.05) * w
    y = (h - (bottom - top)) / 2 + rng.uniform(-0.05, 0.05) * h
    shade = rng.choice((255, 128, 0))
    draw.text((x, y), text, fill=(shade, shade, shade, rng.randint(50, 130)), font=font)
    if rng.random() < 0.5:  # a ring logo beside the text, as many portal marks have
        r = size * rng.uniform(0.8, 1.5)
        cx, cy = x - r * 1.3, y + (bottom - top) / 2
        draw.ellipse(
            (cx - r, cy - r, cx + r, cy + r),
            outline=(shade, shade, shade, rng.randint(50, 130)),
            width=max(1, size // 6),
        )
    return Image.alpha_composite(img.convert("RGBA"), layer).convert("RGB")


def tight_crop(img: Image.Image, rng: random.Random) -> Image.Image:
    """Crop up to ~15% off each side, as sellers frame close on the object."""
    w, h = img.size
    box = (
        int(w * rng.uniform(0, 0.15)),
        int(h * rng.uniform(0, 0.15)),
        int(w * (1 - rng.uniform(0, 0.15))),
        int(h * (1 - rng.uniform(0, 0.15))),
    )
    return img.crop(box)


def jpeg(img: Image.Image, rng: random.Random) -> Image.Image:
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=rng.randint(35, 90))
    buf.seek(0)
    out = Image.open(buf)
    out.load()
    return out.convert("RGB")


def listing_style(img: Image.Image, rng: random.Random, *, centre_mark_p: float = 0.0) -> Image.Image:
    """A random listing-style re-staging of ``img`` (RGB out); ``centre_mark_p``: chance of a portal
    mark across the centre first (training; listing photos of the benchmarks are not given one)."""
    img = img.convert("RGB")
    if centre_mark_p and rng.random() < centre_mark_p:
        img = centre_mark(img, rng)
    img = restage(img, rng)
    if rng.random() < 0.7:
        img = tilt(img, rng)
    img = relight(img, rng)
    img = degrade(img, rng)
    if rng.random() < 0.35:
        img = watermark(img, rng)
    if rng.random() < 0.5:
        img = tight_crop(img, rng)
    return jpeg(img, rng)
