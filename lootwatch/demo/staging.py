"""Put a rendered object into a photo: a studio shot for the gallery, a seller's shot for a listing.

The seller's shot changes what a real relisting changes: backdrop (cloth, table, gradient), scale,
shift, tilt, light and white balance, noise, blur, watermark text, tight crop, JPEG compression.
"""

from __future__ import annotations

import io

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

from lootwatch.demo.patterns import value_noise


def _grid(w: int, h: int) -> tuple[np.ndarray, np.ndarray]:
    return np.meshgrid(np.linspace(0, 1, w, dtype=np.float32), np.linspace(0, 1, h, dtype=np.float32))


def studio_backdrop(w: int, h: int, tone: float = 0.86) -> np.ndarray:
    """A seamless paper sweep: light wall fading into a slightly darker floor."""
    _, y = _grid(w, h)
    v = tone + 0.08 * (1 - y) - 0.1 * np.clip((y - 0.7) / 0.3, 0, 1)
    return np.repeat(v[..., None], 3, axis=2) * np.array([1.0, 1.0, 0.99], np.float32)


def cloth_backdrop(rng: np.random.Generator, w: int, h: int) -> np.ndarray:
    colours = [(0.45, 0.05, 0.08), (0.08, 0.12, 0.35), (0.12, 0.3, 0.15), (0.8, 0.74, 0.62), (0.3, 0.3, 0.32)]
    base = np.array(colours[int(rng.integers(len(colours)))], np.float32)
    x, y = _grid(w, h)
    folds = np.zeros_like(x)
    for _ in range(4):
        ang, freq, ph = rng.uniform(0, np.pi), rng.uniform(2, 6), rng.uniform(0, 2 * np.pi)
        folds += np.sin((x * np.cos(ang) + y * np.sin(ang)) * freq * 2 * np.pi + ph)
    shade = 0.85 + 0.07 * folds
    weave = 0.96 + 0.04 * (np.sin(np.arange(w) * 2.2)[None, :] * np.sin(np.arange(h) * 2.2)[:, None])
    return base * (shade * weave)[..., None]


def table_backdrop(rng: np.random.Generator, w: int, h: int) -> tuple[np.ndarray, float]:
    """A wall above a wooden table top; returns the image and the table edge (fraction of the height)."""
    x, y = _grid(w, h)
    edge = float(rng.uniform(0.45, 0.7))
    wall = np.array(rng.uniform(0.55, 0.9) + rng.uniform(-0.08, 0.08, 3), np.float32)
    wood = np.array([0.45, 0.28, 0.14], np.float32) * rng.uniform(0.7, 1.2)
    # grain: long streaks along the planks, bent a little by low-frequency noise
    noise = value_noise(rng, (h, w), (3, 5))
    streaks = np.sin((y * rng.uniform(60, 110) + noise * 2.5) * 2 * np.pi)
    fine = value_noise(rng, (h, w), (max(2, h // 3), 6))
    grain = 0.88 + 0.05 * streaks + 0.1 * fine
    img = np.where((y < edge)[..., None], wall * (0.9 + 0.1 * x[..., None]), wood * grain[..., None])
    return img.astype(np.float32), edge


def gradient_backdrop(rng: np.random.Generator, w: int, h: int) -> np.ndarray:
    # muted colours, as a photo-studio cardboard or a painted wall
    grey_a, grey_b = rng.uniform(0.25, 0.9), rng.uniform(0.25, 0.9)
    a = np.array(grey_a + rng.uniform(-0.12, 0.12, 3), np.float32)
    b = np.array(grey_b + rng.uniform(-0.12, 0.12, 3), np.float32)
    x, y = _grid(w, h)
    t = np.clip(y * rng.uniform(0.6, 1.2) + x * rng.uniform(-0.3, 0.3), 0, 1)[..., None]
    vignette = 1 - 0.35 * ((x - 0.5) ** 2 + (y - 0.5) ** 2)[..., None]
    return (a * (1 - t) + b * t) * vignette


def _paste(
    canvas: np.ndarray, obj: Image.Image, cx: float, base_y: float, shadow: float, shadow_dx: float
) -> np.ndarray:
    """Composite ``obj`` (RGBA, cropped to the object) with its centre x at cx and its foot at base_y."""
    h, w = canvas.shape[:2]
    ow, oh = obj.size
    left, top = int(round(cx - ow / 2)), int(round(base_y - oh))
    # contact shadow: a soft ellipse under the foot, pushed away from the light
    sh = Image.new("L", (w, h), 0)
    ImageDraw.Draw(sh).ellipse(
        [cx - ow * 0.45 + shadow_dx, base_y - oh * 0.05, cx + ow * 0.45 + shadow_dx, base_y + oh * 0.05],
        fill=255,
    )
    sh_arr = np.asarray(sh.filter(ImageFilter.GaussianBlur(max(2.0, oh * 0.04))), np.float32) / 255
    canvas = canvas * (1 - shadow * sh_arr)[..., None]
    layer = Image.new("RGBA", (w, h), (0, 0, 0, 0))
    layer.paste(obj, (left, top))
    arr = np.asarray(layer, np.float32) / 255
    alpha = arr[..., 3:4]
    return canvas * (1 - alpha) + arr[..., :3] * alpha


def _crop_to_object(obj: Image.Image) -> Image.Image:
    box = obj.getchannel("A").getbbox()
    return obj.crop(box) if box else obj


def _to_image(arr: np.ndarray) -> Image.Image:
    return Image.fromarray((np.clip(arr, 0, 1) * 255).round().astype(np.uint8), "RGB")


def gallery_photo(obj: Image.Image, size: int, tone: float = 0.86) -> Image.Image:
    """Studio view: object centred on a plain sweep, filling about 80 % of the height."""
    obj = _crop_to_object(obj)
    scale = min(0.8 * size / obj.height, 0.85 * size / obj.width)
    obj = obj.resize((max(1, round(obj.width * scale)), max(1, round(obj.height * scale))), Image.Resampling.LANCZOS)
    canvas = studio_backdrop(size, size, tone)
    return _to_image(_paste(canvas, obj, size / 2, size * 0.9, 0.35, size * 0.02))


def listing_photo(rng: np.random.Generator, obj: Image.Image, size: int, seller: str) -> tuple[bytes, Image.Image]:
    """A seller's photo of the object as JPEG bytes (and the decoded image)."""
    w, h = [(int(size * 1.33), size), (size, size), (size, int(size * 1.25))][int(rng.integers(3))]
    kind = int(rng.integers(3))
    floor = 0.92
    if kind == 0:
        canvas = cloth_backdrop(rng, w, h)
    elif kind == 1:
        canvas, edge = table_backdrop(rng, w, h)
        floor = min(0.95, edge + rng.uniform(0.15, 0.3))
    else:
        canvas = gradient_backdrop(rng, w, h)
    obj = _crop_to_object(obj)
    scale = min(rng.uniform(0.45, 0.85) * h / obj.height, 0.9 * w / obj.width)
    obj = obj.resize((max(1, round(obj.width * scale)), max(1, round(obj.height * scale))), Image.Resampling.LANCZOS)
    cx = w / 2 + rng.uniform(-0.15, 0.15) * w
    cx = float(np.clip(cx, obj.width / 2, w - obj.width / 2))
    base_y = float(np.clip(h * floor * rng.uniform(0.95, 1.02), obj.height + 2, h - 2))
    arr = _paste(canvas, obj, cx, base_y, rng.uniform(0.3, 0.6), rng.uniform(-0.05, 0.05) * w)

    # camera: white balance, exposure, contrast
    arr = arr * rng.uniform(0.85, 1.15, 3) * rng.uniform(0.85, 1.15)
    arr = (arr - 0.5) * rng.uniform(0.85, 1.15) + 0.5
    img = _to_image(arr)
    # hand-held: a slight tilt, cropped back to the frame so no empty corners show
    tilt = rng.uniform(-7, 7)
    img = img.rotate(tilt, Image.Resampling.BICUBIC, expand=False)
    m = int(np.ceil(max(w, h) * abs(np.sin(np.radians(tilt))) * 0.6)) + 1
    img = img.crop((m, m, w - m, h - m)).resize((w, h), Image.Resampling.BICUBIC)
    if rng.random() < 0.3:  # tight crop round the object
        f = rng.uniform(0.8, 0.92)
        cw, ch = int(w * f), int(h * f)
        x0 = int(np.clip(cx - cw / 2, 0, w - cw))
        y0 = int(rng.integers(0, h - ch + 1))
        img = img.crop((x0, y0, x0 + cw, y0 + ch))
    if rng.random() < 0.4:
        img = img.filter(ImageFilter.GaussianBlur(rng.uniform(0.4, 1.1)))
    noisy = np.asarray(img, np.float32) + rng.normal(0, rng.uniform(1.5, 6), (img.height, img.width, 3))
    img = Image.fromarray(np.clip(noisy, 0, 255).round().astype(np.uint8), "RGB")
    if rng.random() < 0.35:
        _watermark(img, seller, rng)
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=int(rng.integers(55, 90)))
    data = buf.getvalue()
    return data, Image.open(io.BytesIO(data))


def _watermark(img: Image.Image, seller: str, rng: np.random.Generator) -> None:
    draw = ImageDraw.Draw(img, "RGBA")
    font = ImageFont.load_default(size=max(10, img.height // 18))
    x = int(rng.uniform(0.03, 0.5) * img.width)
    y = int(rng.uniform(0.03, 0.9) * img.height)
    draw.text((x, y), f"(c) {seller}", fill=(255, 255, 255, 150), font=font)


def thumbnail(img: Image.Image, side: int = 96) -> bytes:
    thumb = img.convert("RGB").copy()
    thumb.thumbnail((side, side), Image.Resampling.LANCZOS)
    buf = io.BytesIO()
    thumb.save(buf, "JPEG", quality=80)
    return buf.getvalue()
