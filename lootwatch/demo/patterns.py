"""Painted decoration of the synthetic vessels, as a texture wrapped around the body.

The texture is indexed by (v, u): v runs up the profile (0 = foot, 1 = lip), u around the body.
Bands of periodic ornament (meanders, zigzags, dots, rays, waves, ...) frame at least one
non-periodic zone (figures or panels at chosen azimuths), so every vessel has a front and a back and
each turntable view shows a different part of its decoration.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from PIL import Image

TEX_V, TEX_U = 256, 1024

RGB = tuple[float, float, float]

TERRACOTTA: RGB = (0.74, 0.40, 0.21)
BLACK_GLAZE: RGB = (0.07, 0.055, 0.05)


@dataclass(frozen=True)
class Style:
    name: str
    ground: RGB  # colour of the clay or slip the decoration is painted on
    paint: RGB  # main paint / glaze
    accents: tuple[RGB, ...]
    figures_reserved: bool = False  # red-figure: the figures are left in the clay colour, the field is painted


STYLES: tuple[Style, ...] = (
    Style("black-figure", TERRACOTTA, BLACK_GLAZE, ((0.45, 0.12, 0.08), (0.90, 0.85, 0.72))),
    Style("red-figure", BLACK_GLAZE, TERRACOTTA, ((0.90, 0.85, 0.72), (0.50, 0.16, 0.10)), figures_reserved=True),
    Style("geometric", (0.84, 0.72, 0.55), (0.24, 0.13, 0.08), ((0.55, 0.25, 0.12),)),
    Style("blue-and-white", (0.93, 0.93, 0.90), (0.10, 0.20, 0.56), ((0.45, 0.60, 0.85),)),
    Style("turquoise", (0.18, 0.58, 0.62), (0.06, 0.10, 0.30), ((0.95, 0.95, 0.92), (0.05, 0.05, 0.05))),
    Style(
        "polychrome",
        (0.92, 0.87, 0.74),
        (0.22, 0.14, 0.10),
        ((0.70, 0.16, 0.12), (0.85, 0.62, 0.15), (0.20, 0.45, 0.25)),
    ),
    Style("celadon", (0.58, 0.72, 0.60), (0.28, 0.42, 0.33), ((0.80, 0.88, 0.80),)),
    Style("slipware", (0.50, 0.22, 0.12), (0.92, 0.80, 0.45), ((0.15, 0.08, 0.05),)),
)

# motif(a, b, rng) -> mask; a: repeat coordinate (one motif per unit), b: 0..1 across the band
Motif = Callable[[np.ndarray, np.ndarray], np.ndarray]


def _tri(a: np.ndarray) -> np.ndarray:
    return np.abs(np.mod(a, 1.0) - 0.5) * 2.0  # 1 at the motif edges, 0 in its middle


_MEANDER = np.array(
    [
        [1, 1, 1, 1, 1, 1, 1, 1],
        [0, 0, 0, 0, 0, 0, 0, 1],
        [1, 1, 1, 1, 1, 1, 0, 1],
        [1, 0, 0, 0, 0, 1, 0, 1],
        [1, 0, 1, 1, 0, 1, 0, 1],
        [1, 0, 1, 0, 0, 1, 0, 1],
        [1, 0, 1, 1, 1, 1, 0, 1],
        [1, 0, 0, 0, 0, 0, 0, 1],
        [1, 1, 1, 1, 1, 1, 1, 1],
    ],
    dtype=bool,
)[::-1]  # rows bottom-up, like b


def m_solid(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.ones_like(a, dtype=bool)


def m_lines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.mod(b * 3.0, 1.0) < 0.4


def m_zigzag(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.abs(b - (0.15 + 0.7 * _tri(a))) < 0.14


def m_rays(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return b < 1.0 - _tri(a)


def m_tongues(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    x = np.mod(a, 1.0) - 0.5
    return (x / 0.42) ** 2 + ((b - 1.0) / 0.9) ** 2 < 1.0


def m_dots(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (np.mod(a, 1.0) - 0.5) ** 2 + (b - 0.5) ** 2 < 0.28**2


def m_wave(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return b < 0.45 + 0.3 * np.sin(2 * np.pi * a) * (1 - 0.5 * np.cos(2 * np.pi * a))


def m_checker(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (np.floor(a * 2) + np.floor(b * 2)).astype(int) % 2 == 0


def m_meander(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    rows, cols = _MEANDER.shape
    i = np.clip((b * rows).astype(int), 0, rows - 1)
    j = np.clip((np.mod(a, 1.0) * cols).astype(int), 0, cols - 1)
    return _MEANDER[i, j]


def m_scales(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    rows = 2.0
    shift = np.floor(b * rows) % 2 * 0.5
    x = np.mod(a + shift, 1.0) - 0.5
    y = np.mod(b * rows, 1.0)
    d = np.sqrt(x**2 + (y - 1.0) ** 2)
    return np.abs(d - 0.42) < 0.08


def m_rosettes(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    x, y = np.mod(a, 1.0) - 0.5, b - 0.5
    r, t = np.hypot(x, y), np.arctan2(y, x)
    return (r < 0.42 * (0.55 + 0.45 * np.abs(np.cos(4 * t)))) & ~((r > 0.06) & (r < 0.1))


def m_chevrons(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.mod(b * 2.0 + _tri(a) * 1.2, 1.0) < 0.45


def m_hatched(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    inside = b < 1.0 - _tri(a) * 1.0
    hatch = np.mod((a + b) * 6.0, 1.0) < 0.5
    edge = np.abs(b - (1.0 - _tri(a))) < 0.08
    return (inside & hatch) | edge


def m_ivy(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    stem = np.abs(b - 0.5 - 0.12 * np.sin(2 * np.pi * a)) < 0.05
    x = np.mod(a, 1.0)
    up = ((x - 0.25) / 0.16) ** 2 + ((b - 0.78) / 0.2) ** 2 < 1
    down = ((x - 0.75) / 0.16) ** 2 + ((b - 0.22) / 0.2) ** 2 < 1
    return stem | up | down


PERIODIC: dict[str, Motif] = {
    "lines": m_lines,
    "zigzag": m_zigzag,
    "rays": m_rays,
    "tongues": m_tongues,
    "dots": m_dots,
    "wave": m_wave,
    "checker": m_checker,
    "meander": m_meander,
    "scales": m_scales,
    "rosettes": m_rosettes,
    "chevrons": m_chevrons,
    "hatched": m_hatched,
    "ivy": m_ivy,
}


# --- figures: silhouettes built from capsules and ellipses, in band-height units --------------


def _capsule(x: np.ndarray, y: np.ndarray, p: tuple[float, float], q: tuple[float, float], w: float) -> np.ndarray:
    px, py = p
    dx, dy = q[0] - px, q[1] - py
    t = np.clip(((x - px) * dx + (y - py) * dy) / (dx * dx + dy * dy + 1e-12), 0.0, 1.0)
    return (x - px - t * dx) ** 2 + (y - py - t * dy) ** 2 < w * w


def _ellipse(x: np.ndarray, y: np.ndarray, c: tuple[float, float], rx: float, ry: float) -> np.ndarray:
    return ((x - c[0]) / rx) ** 2 + ((y - c[1]) / ry) ** 2 < 1.0


def _human(x: np.ndarray, y: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    lean = rng.uniform(-0.06, 0.06)
    hip, neck = (lean, 0.42), (lean * 0.5, 0.74)
    body = _ellipse(x, y, (0.0, 0.86), 0.07, 0.075)  # head
    body |= _capsule(x, y, hip, neck, 0.075)
    stride = rng.uniform(0.08, 0.2)
    body |= _capsule(x, y, hip, (-stride, 0.03), 0.035) | _capsule(x, y, hip, (stride, 0.03), 0.035)
    for side in (-1, 1):
        hand = (side * rng.uniform(0.12, 0.26), rng.uniform(0.45, 0.9))
        body |= _capsule(x, y, neck, hand, 0.028)
    if rng.random() < 0.5:  # spear or staff
        sx = rng.uniform(0.15, 0.25)
        body |= _capsule(x, y, (sx, 0.0), (sx + rng.uniform(-0.1, 0.1), 0.98), 0.015)
    if rng.random() < 0.5:  # shield
        body |= _ellipse(x, y, (-0.16, 0.58), 0.12, 0.14)
    detail = _capsule(x, y, (lean - 0.06, 0.52), (lean + 0.06, 0.52), 0.012)  # belt, incised
    return body, detail


def _animal(x: np.ndarray, y: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    length, height = rng.uniform(0.28, 0.4), rng.uniform(0.1, 0.14)
    cy = rng.uniform(0.4, 0.5)
    body = _ellipse(x, y, (0.0, cy), length, height)
    for lx in (-0.7, -0.5, 0.5, 0.7):
        foot = lx * length + rng.uniform(-0.05, 0.05)
        body |= _capsule(x, y, (lx * length * 0.9, cy), (foot, 0.02), 0.03)
    head = (length + 0.12, cy + rng.uniform(0.15, 0.3))
    body |= _capsule(x, y, (length * 0.7, cy + 0.03), head, 0.05)
    body |= _ellipse(x, y, head, 0.08, 0.05)
    if rng.random() < 0.5:  # horns or ears
        body |= _capsule(x, y, head, (head[0] - 0.05, head[1] + 0.14), 0.018)
    body |= _capsule(x, y, (-length, cy + 0.02), (-length - 0.15, cy - rng.uniform(0.0, 0.2)), 0.02)
    detail = _capsule(x, y, (-0.5 * length, cy), (0.5 * length, cy + 0.02), 0.01)
    return body, detail


def _bird(x: np.ndarray, y: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    cy = rng.uniform(0.4, 0.55)
    body = _ellipse(x, y, (0.0, cy), 0.2, 0.11)
    body |= _ellipse(x, y, (0.2, cy + 0.14), 0.06, 0.06)
    body |= _capsule(x, y, (0.25, cy + 0.14), (0.34, cy + 0.12), 0.02)  # beak
    tail = (x < -0.12) & (x > -0.4) & (np.abs(y - cy - 0.05) < (-0.12 - x) * 0.7)
    body |= tail
    body |= _capsule(x, y, (0.02, cy - 0.08), (0.0, 0.02), 0.015) | _capsule(
        x, y, (0.06, cy - 0.08), (0.1, 0.02), 0.015
    )
    detail = _capsule(x, y, (-0.12, cy + 0.02), (0.1, cy + 0.05), 0.012)  # wing line
    return body, detail


def _palmette(x: np.ndarray, y: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    petals = int(rng.integers(5, 10))
    body = _capsule(x, y, (0.0, 0.02), (0.0, 0.3), 0.025)
    for k in range(petals):
        ang = np.pi * (0.12 + 0.76 * k / (petals - 1))
        tip = (0.42 * np.cos(ang), 0.3 + 0.55 * np.sin(ang))
        body |= _capsule(x, y, (0.0, 0.3), tip, 0.045)
    body |= _ellipse(x, y, (0.0, 0.3), 0.09, 0.07)
    return body, np.zeros_like(body)


FIGURES = (_human, _animal, _bird, _palmette)


# --- composition --------------------------------------------------------------------------------


def _jitter(rng: np.random.Generator, color: RGB, amount: float = 0.05) -> np.ndarray:
    return np.clip(np.array(color) + rng.uniform(-amount, amount, 3), 0.0, 1.0)


def value_noise(rng: np.random.Generator, shape: tuple[int, int], cells: tuple[int, int]) -> np.ndarray:
    grid = rng.random(cells).astype(np.float32)
    img = Image.fromarray(grid).resize((shape[1], shape[0]), Image.Resampling.BICUBIC)
    return np.asarray(img, dtype=np.float32)


@dataclass(frozen=True)
class Decoration:
    texture: np.ndarray  # (TEX_V, TEX_U, 3) float32
    handle_color: np.ndarray
    interior_color: np.ndarray
    style: str
    motifs: tuple[str, ...]


def paint(rng: np.random.Generator, radius_at: np.ndarray, height: float, style: Style | None = None) -> Decoration:
    """Paint a vessel: ``radius_at`` (TEX_V,) is the body radius along v; ``height`` the body height."""
    style = style or STYLES[int(rng.integers(len(STYLES)))]
    ground, paint_c = _jitter(rng, style.ground), _jitter(rng, style.paint)
    accents = [_jitter(rng, c) for c in style.accents]
    tex = np.empty((TEX_V, TEX_U, 3), np.float32)
    tex[:] = ground
    v = (np.arange(TEX_V) + 0.5) / TEX_V
    u = (np.arange(TEX_U) + 0.5) / TEX_U
    uu = np.broadcast_to(u, (TEX_V, TEX_U))

    # band edges: foot and lip painted solid, one tall main frieze on the belly, periodic bands between
    m0 = rng.uniform(0.22, 0.36)
    m1 = m0 + rng.uniform(0.26, 0.36)
    edges = [0.0, rng.uniform(0.03, 0.08)]
    while edges[-1] < m0 - 0.05:
        edges.append(min(edges[-1] + rng.uniform(0.06, 0.16), m0))
    edges[-1] = m0
    edges.append(m1)
    while edges[-1] < 0.92:
        edges.append(min(edges[-1] + rng.uniform(0.06, 0.16), 0.95))
    edges.append(1.0)
    bands = list(zip(edges[:-1], edges[1:], strict=True))
    main = edges.index(m0)
    names: list[str] = []
    for k, (v0, v1) in enumerate(bands):
        rows = (v >= v0) & (v < v1)
        if not rows.any():
            continue
        b = ((v[rows] - v0) / (v1 - v0))[:, None] * np.ones((1, TEX_U))
        r_mid = float(np.mean(radius_at[rows]))
        band_h = (v1 - v0) * height
        circumference = 2 * np.pi * max(r_mid, 1e-3)
        if k in (0, len(bands) - 1):
            names.append("solid")
            tex[rows] = paint_c if rng.random() < 0.8 else accents[0]
            continue
        if k == main:
            names.append(_frieze(rng, tex, rows, b, uu[rows], band_h, circumference, style, ground, paint_c, accents))
            continue
        name = list(PERIODIC)[int(rng.integers(len(PERIODIC)))]
        names.append(name)
        repeats = max(4, int(round(circumference / max(band_h, 1e-3) * rng.uniform(0.7, 1.3))))
        mask = PERIODIC[name](uu[rows] * repeats, b)
        color = paint_c if rng.random() < 0.75 else accents[int(rng.integers(len(accents)))]
        block = tex[rows]
        if rng.random() < 0.25:  # reserved band on a painted field
            block[:] = color
            block[mask] = ground
        else:
            block[mask] = color
        tex[rows] = block
        # a thin framing line under each band
        line = rows & (v < v0 + 0.006)
        tex[line] = paint_c

    # glaze variation and wear, so two vessels with the same motifs still differ
    shade = 0.9 + 0.15 * value_noise(rng, (TEX_V, TEX_U), (6, 24))
    wear = value_noise(rng, (TEX_V, TEX_U), (24, 96)) > 0.93
    tex *= shade[..., None]
    tex[wear] = tex[wear] * 0.5 + np.array(TERRACOTTA) * 0.5
    handle = paint_c if style.name != "red-figure" else _jitter(rng, BLACK_GLAZE)
    interior = paint_c * 0.35 if rng.random() < 0.6 else ground * 0.4
    return Decoration(np.clip(tex, 0, 1), handle, interior, style.name, tuple(names))


def _frieze(
    rng: np.random.Generator,
    tex: np.ndarray,
    rows: np.ndarray,
    b: np.ndarray,
    u: np.ndarray,
    band_h: float,
    circumference: float,
    style: Style,
    ground: np.ndarray,
    paint_c: np.ndarray,
    accents: list[np.ndarray],
) -> str:
    """Non-periodic zone: 2-5 figures (or framed panels) at chosen azimuths."""
    block = tex[rows]
    field, figure = (paint_c, ground) if style.figures_reserved else (ground, paint_c)
    block[:] = field
    y = b
    n = int(rng.integers(2, 5))
    centres = np.sort(rng.uniform(0, 1, n))
    panels = rng.random() < 0.3
    width_u = band_h / circumference  # one band height, in u
    kinds = []
    for c in centres:
        du = np.mod(u - c + 0.5, 1.0) - 0.5
        near = np.abs(du) < 0.6 * width_u
        x = du / width_u  # in band heights, 0 at the figure's axis
        if rng.random() < 0.5:
            x = -x  # facing left or right
        if panels:  # a framed panel (metope) with a figure inside
            frame = near & (np.abs(x) < 0.5)
            block[frame] = accents[0] if rng.random() < 0.5 else figure
            inner = frame & (np.abs(x) < 0.44) & (y > 0.06) & (y < 0.94)
            block[inner] = field
        kind = int(rng.integers(len(FIGURES)))
        kinds.append(FIGURES[kind].__name__.strip("_"))
        body, detail = FIGURES[kind](np.where(near, x, 9.0), y, rng)
        color = figure if rng.random() < 0.8 else accents[int(rng.integers(len(accents)))]
        block[body & near] = color
        block[detail & body & near] = field if not style.figures_reserved else paint_c
    tex[rows] = block
    return ("panels:" if panels else "figures:") + ",".join(kinds)
