"""Lathe-profile vessels with handles, ray-marched with numpy.

A vessel is a solid of revolution about the vertical axis (profile r(y)), an open mouth, and
optional handles (torus segments). ``render`` turns it by ``angle`` degrees on a turntable (the
painted decoration turns with it), looks down at it from ``elevation`` degrees, lights it with a
key light and returns an RGBA image whose alpha is the object's silhouette.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageFilter

from lootwatch.demo.patterns import TEX_U, TEX_V, Decoration, paint

EXTENT = 0.85  # the vessel fits in [-EXTENT, EXTENT]^3 (object units)

# (t up the profile, radius relative to the height) control points; jittered per object
PROFILES: dict[str, list[tuple[float, float]]] = {
    "amphora": [
        (0, 0.12),
        (0.04, 0.13),
        (0.08, 0.08),
        (0.2, 0.2),
        (0.45, 0.35),
        (0.6, 0.34),
        (0.72, 0.22),
        (0.78, 0.13),
        (0.9, 0.12),
        (0.96, 0.15),
        (1, 0.16),
    ],
    "krater": [
        (0, 0.2),
        (0.05, 0.2),
        (0.09, 0.1),
        (0.18, 0.13),
        (0.35, 0.3),
        (0.5, 0.36),
        (0.7, 0.4),
        (0.9, 0.45),
        (1, 0.47),
    ],
    "hydria": [
        (0, 0.18),
        (0.05, 0.2),
        (0.1, 0.17),
        (0.4, 0.38),
        (0.6, 0.38),
        (0.8, 0.22),
        (0.88, 0.13),
        (0.95, 0.15),
        (1, 0.2),
    ],
    "bowl": [(0, 0.4), (0.12, 0.42), (0.2, 0.55), (0.5, 1.0), (0.8, 1.2), (1, 1.25)],
    "lekythos": [
        (0, 0.14),
        (0.05, 0.15),
        (0.1, 0.12),
        (0.15, 0.2),
        (0.6, 0.21),
        (0.68, 0.17),
        (0.71, 0.07),
        (0.85, 0.06),
        (0.9, 0.09),
        (1, 0.1),
    ],
    "jar": [
        (0, 0.22),
        (0.06, 0.24),
        (0.3, 0.4),
        (0.55, 0.42),
        (0.8, 0.3),
        (0.88, 0.2),
        (0.95, 0.22),
        (1, 0.25),
    ],
    "oinochoe": [
        (0, 0.15),
        (0.05, 0.16),
        (0.1, 0.14),
        (0.35, 0.32),
        (0.55, 0.33),
        (0.72, 0.2),
        (0.8, 0.1),
        (0.92, 0.13),
        (1, 0.17),
    ],
}
KINDS = tuple(PROFILES)


@dataclass(frozen=True)
class Handle:
    vertical: bool  # True: a loop in a radial plane (amphora); False: a horizontal ring (krater)
    azimuth: float  # radians, in the vessel's own frame
    qc: float  # centre: distance from the axis
    yc: float  # centre: height
    a: float  # loop radius
    b: float  # tube radius


@dataclass(frozen=True)
class Vessel:
    kind: str
    ys: np.ndarray  # heights, ascending, from y_bot to y_top
    rs: np.ndarray  # body radius at ys
    handles: tuple[Handle, ...]
    decoration: Decoration
    lip: float  # wall thickness at the mouth

    @property
    def y_bot(self) -> float:
        return float(self.ys[0])

    @property
    def y_top(self) -> float:
        return float(self.ys[-1])


def make_vessel(rng: np.random.Generator, kind: str | None = None) -> Vessel:
    kind = kind or KINDS[int(rng.integers(len(KINDS)))]
    pts = np.array(PROFILES[kind], dtype=np.float64)
    pts[1:-1, 0] += rng.uniform(-0.015, 0.015, len(pts) - 2)
    pts[:, 1] *= rng.uniform(0.85, 1.15, len(pts)) * rng.uniform(0.85, 1.15)
    t = np.linspace(0, 1, 400)
    r = np.interp(t, np.sort(pts[:, 0]), pts[:, 1])
    kernel = np.exp(-0.5 * (np.arange(-30, 31) / 10.0) ** 2)
    r = np.convolve(np.pad(r, 30, mode="edge"), kernel / kernel.sum(), mode="valid")
    # scale to fit: height 1 -> the larger of height and diameter spans 2 * EXTENT
    scale = 2 * EXTENT / max(1.0, 2 * float(r.max()))
    height = scale
    ys = (t - 0.5) * height
    rs = r * scale
    handles = _handles(rng, kind, ys, rs)
    radius_at = np.interp((np.arange(TEX_V) + 0.5) / TEX_V, t, rs)
    decoration = paint(rng, radius_at, height)
    return Vessel(kind, ys, rs, handles, decoration, lip=float(rs[-1]) * 0.12)


def _handles(rng: np.random.Generator, kind: str, ys: np.ndarray, rs: np.ndarray) -> tuple[Handle, ...]:
    h = ys[-1] - ys[0]

    def r_at(frac: float) -> float:
        return float(np.interp(ys[0] + frac * h, ys, rs))

    base = rng.uniform(0, 2 * np.pi)
    b = 0.022 + 0.01 * rng.random()
    if kind == "amphora" or (kind == "hydria" and rng.random() < 0.5):
        lo, hi = (0.68, 0.9) if kind == "amphora" else (0.62, 0.85)
        yc = ys[0] + (lo + hi) / 2 * h
        a = (hi - lo) / 2 * h
        qc = max(r_at(hi), r_at(lo) * 0.7) + 0.02
        pair = [Handle(True, base + k * np.pi, qc, yc, a, b) for k in (0, 1)]
        return tuple(pair)
    if kind in ("krater", "hydria", "bowl"):
        frac = {"krater": 0.4, "hydria": 0.55, "bowl": 0.85}[kind]
        yc = ys[0] + frac * h
        a = 0.06 + 0.03 * rng.random()
        qc = r_at(frac) + a * 0.3
        return tuple(Handle(False, base + k * np.pi, qc, yc, a, b) for k in (0, 1))
    if kind in ("lekythos", "oinochoe"):
        lo, hi = (0.7, 0.92)
        a = (hi - lo) / 2 * h
        return (Handle(True, base, r_at(hi) + 0.03, ys[0] + (lo + hi) / 2 * h, a, b * 1.2),)
    return ()


# --- geometry -----------------------------------------------------------------------------------


def _field(v: Vessel, angle: float, x: np.ndarray, y: np.ndarray, z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(body, handles) pseudo-distances at object-frame points: negative inside."""
    rho = np.sqrt(x * x + z * z)
    body = np.maximum(rho - np.interp(y, v.ys, v.rs), np.maximum(y - v.y_top, v.y_bot - y))
    hand = np.full_like(x, np.inf)
    for hd in v.handles:
        az = hd.azimuth + angle
        q = x * np.sin(az) + z * np.cos(az)  # along the handle's radial direction
        w = x * np.cos(az) - z * np.sin(az)  # across it
        if hd.vertical:
            ring = np.sqrt((q - hd.qc) ** 2 + (y - hd.yc) ** 2) - hd.a
            d = np.sqrt(ring**2 + w**2) - hd.b
        else:
            ring = np.sqrt((q - hd.qc) ** 2 + w**2) - hd.a
            d = np.sqrt(ring**2 + (y - hd.yc) ** 2) - hd.b
        hand = np.minimum(hand, d)
    return body, hand


@dataclass(frozen=True)
class Light:
    direction: tuple[float, float, float] = (-0.5, 0.6, -0.65)  # camera frame, towards the light
    ambient: float = 0.32
    diffuse: float = 0.75
    specular: float = 0.35
    shininess: float = 30.0


def render(
    v: Vessel,
    size: int,
    *,
    angle: float,
    elevation: float = 10.0,
    light: Light | None = None,
    steps: int = 110,
) -> Image.Image:
    """RGBA image (size x size) of the vessel turned by ``angle`` degrees, seen from ``elevation`` degrees."""
    light = light or Light()
    th, el = np.radians(angle), np.radians(elevation)
    ce, se = np.cos(el), np.sin(el)
    half = 1.0 / 0.92  # image half-width in object units: a little margin round EXTENT
    coords = (np.arange(size) + 0.5) / size * 2 - 1
    grid_x, grid_y = np.meshgrid(coords * half, -coords * half)
    px, py = grid_x.ravel(), grid_y.ravel()
    reach = EXTENT * np.sqrt(3)
    cand = np.flatnonzero(px * px + py * py < reach * reach)
    cx, cy = px[cand], py[cand]

    def to_obj(s: np.ndarray, cx: np.ndarray, cy: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        # camera frame (cx, cy, s) -> object frame; the camera sits above, on the -z side
        return cx, cy * ce - s * se, cy * se + s * ce

    def inside(s: np.ndarray, cx: np.ndarray, cy: np.ndarray) -> np.ndarray:
        body, hand = _field(v, th, *to_obj(s, cx, cy))
        return np.minimum(body, hand) < 0

    # march front to back inside the bounding cylinder only, then bisect the first crossing
    s0, s1 = _cylinder_span(v, cx, cy, ce, se, reach)
    ds = 2 * reach / steps
    hit_s = np.full(cand.size, np.nan)
    todo = np.flatnonzero(s0 < s1)
    k = 0
    while todo.size:
        s = s0[todo] + k * ds
        live = s <= s1[todo] + ds
        todo, s = todo[live], s[live]
        got = inside(s, cx[todo], cy[todo])
        hit_s[todo[got]] = s[got]
        todo = todo[~got]
        k += 1
    hit = np.flatnonzero(~np.isnan(hit_s))
    hi = hit_s[hit]
    prev = hi - ds  # last point outside
    hx, hy = cx[hit], cy[hit]
    for _ in range(10):
        mid = (prev + hi) / 2
        inn = inside(mid, hx, hy)
        hi = np.where(inn, mid, hi)
        prev = np.where(inn, prev, mid)
    x, y, z = to_obj(hi, hx, hy)

    # normals by central differences of the field
    e = 1e-3

    def total(x: np.ndarray, y: np.ndarray, z: np.ndarray) -> np.ndarray:
        body, hand = _field(v, th, x, y, z)
        return np.minimum(body, hand)

    n = np.stack(
        [
            total(x + e, y, z) - total(x - e, y, z),
            total(x, y + e, z) - total(x, y - e, z),
            total(x, y, z + e) - total(x, y, z - e),
        ],
        axis=1,
    )
    n /= np.linalg.norm(n, axis=1, keepdims=True) + 1e-9

    body, hand = _field(v, th, x, y, z)
    is_handle = hand < body
    rho = np.sqrt(x * x + z * z)
    is_mouth = ~is_handle & (y > v.y_top - 2e-3) & (rho < v.rs[-1] - v.lip)

    # albedo: texture on the body, glaze on handles, dark interior in the mouth
    dec = v.decoration
    vv = np.clip(((y - v.y_bot) / (v.y_top - v.y_bot) * TEX_V).astype(int), 0, TEX_V - 1)
    uu = ((np.arctan2(x, z) - th) / (2 * np.pi) * TEX_U).astype(int) % TEX_U
    albedo = dec.texture[vv, uu].astype(np.float64)
    albedo[is_handle] = dec.handle_color
    rim = ~is_handle & (y > v.y_top - 2e-3) & ~is_mouth
    albedo[rim] = dec.handle_color

    # light and view directions, camera frame -> object frame
    lx, ly, lz = light.direction
    ldir = np.array([lx, ly * ce - lz * se, ly * se + lz * ce])
    ldir /= np.linalg.norm(ldir)
    view = np.array([0.0, se, -ce])
    half_v = (ldir + view) / np.linalg.norm(ldir + view)
    diff = np.clip(n @ ldir, 0, None)
    spec = np.clip(n @ half_v, 0, None) ** light.shininess
    shade = light.ambient + light.diffuse * diff
    rgb = albedo * shade[:, None] + light.specular * spec[:, None]
    if is_mouth.any():
        # inside the mouth: darker towards the front wall, which hides the light
        depth = np.clip((z[is_mouth] / (v.rs[-1] + 1e-6) + 1) / 2, 0, 1)
        rgb[is_mouth] = dec.interior_color * (0.25 + 0.9 * depth[:, None])

    out = np.zeros((size * size, 4), np.float64)
    idx = cand[hit]
    out[idx, :3] = np.clip(rgb, 0, 1)
    out[idx, 3] = 1.0
    img = Image.fromarray((out.reshape(size, size, 4) * 255).round().astype(np.uint8), "RGBA")
    return _soften_edge(img)


def _cylinder_span(
    v: Vessel, cx: np.ndarray, cy: np.ndarray, ce: float, se: float, reach: float
) -> tuple[np.ndarray, np.ndarray]:
    """Ray parameters (s0, s1) where each pixel's ray crosses the vessel's bounding cylinder."""
    radius, y_lo, y_hi = float(v.rs.max()), v.y_bot, v.y_top
    for hd in v.handles:
        reach_out = hd.a + hd.b if hd.vertical else hd.b
        radius = max(radius, hd.qc + hd.a + hd.b)
        y_lo, y_hi = min(y_lo, hd.yc - reach_out), max(y_hi, hd.yc + reach_out)
    radius, y_lo, y_hi = radius + 0.01, y_lo - 0.01, y_hi + 0.01
    zr = np.sqrt(np.clip(radius**2 - cx**2, 0, None))  # |z| bound where rho <= radius
    s0, s1 = (-zr - cy * se) / ce, (zr - cy * se) / ce
    s0 = np.where(np.abs(cx) < radius, s0, np.inf)
    if se > 1e-6:  # y = cy*ce - s*se falls as s grows
        s0 = np.maximum(s0, (cy * ce - y_hi) / se)
        s1 = np.minimum(s1, (cy * ce - y_lo) / se)
    else:
        inside_slab = (cy >= y_lo) & (cy <= y_hi)
        s0 = np.where(inside_slab, s0, np.inf)
    return np.maximum(s0, -reach), np.minimum(s1, reach)


def _soften_edge(img: Image.Image) -> Image.Image:
    """Cheap anti-aliasing: feather the silhouette by half a pixel."""
    alpha = img.getchannel("A").filter(ImageFilter.GaussianBlur(0.6))
    rgb = img.convert("RGB").filter(ImageFilter.MaxFilter(3))  # colour for the feathered rim
    mask = np.asarray(img.getchannel("A")) > 0
    base = np.asarray(img.convert("RGB")).copy()
    grown = np.asarray(rgb)
    base[~mask] = grown[~mask]
    out = Image.fromarray(base, "RGB")
    out.putalpha(alpha)
    return out
