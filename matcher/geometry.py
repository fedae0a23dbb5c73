"""Do two photos show the same surface? ORB keypoints, a ratio test and a RANSAC homography.

A pure function of two encoded photos. The alert rule reads the inlier count
(``alerts.rules``); ``pairs`` gives the inlier keypoints of both photos in their own pixel
coordinates, so a viewer can draw the lines between them.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from PIL import Image

# ORB needs room around keypoints (31 px patches): tiny photos are upscaled before detection
MIN_SIDE = 256
MAX_SIDE = 1024

Point = tuple[float, float]


@dataclass(frozen=True)
class GeometryResult:
    available: bool  # False: OpenCV missing or an image unreadable (reason says which)
    keypoints: tuple[int, int] = (0, 0)
    good_matches: int = 0
    inliers: int = 0
    passed: bool = False
    reason: str = ""
    # (query point, reference point) of each inlier match, in each photo's full-size pixels
    pairs: tuple[tuple[Point, Point], ...] = field(default=(), compare=False, repr=False)

    def to_dict(self) -> dict[str, Any]:
        """The figures an alert's evidence records (the point pairs are for drawing, not kept)."""
        return {
            "available": self.available,
            "keypoints": self.keypoints,
            "good_matches": self.good_matches,
            "inliers": self.inliers,
            "passed": self.passed,
            "reason": self.reason,
        }


def _gray(data: bytes) -> tuple[np.ndarray, float, float]:
    """The photo in grey at the detector's size, and the x / y factors back to its full size."""
    opened = Image.open(io.BytesIO(data))
    full_w, full_h = opened.size
    opened.draft("L", (MAX_SIDE, MAX_SIDE))  # JPEG: decode already reduced
    img = opened.convert("L")
    scale = 1.0
    if min(img.size) < MIN_SIDE:
        scale = MIN_SIDE / min(img.size)
    if max(img.size) * scale > MAX_SIDE:
        scale = MAX_SIDE / max(img.size)
    if scale != 1.0:
        img = img.resize(
            (max(1, round(img.width * scale)), max(1, round(img.height * scale))), Image.Resampling.BICUBIC
        )
    return np.asarray(img), full_w / img.width, full_h / img.height


def geometric_check(query: bytes, reference: bytes, min_inliers: int = 12) -> GeometryResult:
    """Do ``query`` and ``reference`` show the same surface? ORB + ratio test + RANSAC homography.

    A homography fits a flat or distant object seen from two viewpoints; for the few-degree
    view changes between a listing photo and a museum photo of the same side it holds well enough,
    while unrelated objects leave only a handful of chance inliers.
    """
    try:
        import cv2  # heavy import: OpenCV, only where a pair is checked
    except ImportError:
        return GeometryResult(False, reason="opencv-python-headless is not installed")
    try:
        (a, ax, ay), (b, bx, by) = _gray(query), _gray(reference)
    except (OSError, ValueError) as exc:
        return GeometryResult(False, reason=f"unreadable image: {exc}")
    cv2.setNumThreads(1)  # shares the worker's core with torch
    orb = cv2.ORB.create(nfeatures=1500, fastThreshold=12)
    ka, da = orb.detectAndCompute(a, None)
    kb, db = orb.detectAndCompute(b, None)
    counts = (len(ka), len(kb))
    if da is None or db is None or len(ka) < 4 or len(kb) < 4:
        return GeometryResult(True, counts, reason="too few keypoints")
    matches = cv2.BFMatcher(cv2.NORM_HAMMING).knnMatch(da, db, k=2)
    good = [p[0] for p in matches if len(p) == 2 and p[0].distance < 0.8 * p[1].distance]
    if len(good) < 4:
        return GeometryResult(True, counts, len(good), reason="too few matching keypoints")
    src = np.array([ka[m.queryIdx].pt for m in good], dtype=np.float32).reshape(-1, 1, 2)
    dst = np.array([kb[m.trainIdx].pt for m in good], dtype=np.float32).reshape(-1, 1, 2)
    h, mask = cv2.findHomography(src, dst, cv2.RANSAC, 5.0)
    if h is None or mask is None:
        return GeometryResult(True, counts, len(good), reason="no homography")
    kept = [good[i] for i in np.flatnonzero(mask.ravel())]
    # distinct reference keypoints: many query points collapsing onto a few is no evidence
    inliers = len({m.trainIdx for m in kept})
    pairs = tuple(
        (
            (float(ka[m.queryIdx].pt[0] * ax), float(ka[m.queryIdx].pt[1] * ay)),
            (float(kb[m.trainIdx].pt[0] * bx), float(kb[m.trainIdx].pt[1] * by)),
        )
        for m in kept
    )
    # a (near-)singular or mirroring homography is a chance fit, not the same surface
    det = float(np.linalg.det(h[:2, :2]))
    plausible = 0.05 < det < 20.0
    passed = plausible and inliers >= min_inliers
    reason = "" if plausible else f"implausible homography (det {det:.3g})"
    return GeometryResult(True, counts, len(good), inliers, passed, reason, pairs)
