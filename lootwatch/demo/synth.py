"""A licence-free synthetic protected gallery, and the photos and lots of a demo auction site.

``generate(out_dir)`` writes::

    out_dir/gallery.csv            image,artefact_id,collection   (benchmark layout, see BENCHMARK.md)
    out_dir/gallery/<id>/<nn>.png  studio views of each protected vessel, on a turntable
    out_dir/artefacts.csv          artefact_id,title,collection,description,provenance
    out_dir/site/lots.json         the lots the demo site serves (three page styles)
    out_dir/site/photos/*.jpg      sellers' photos: other angles, re-staged; thumb/ holds 96 px variants
    out_dir/answers.json           lot id -> protected artefact id shown, or null (never served)
    out_dir/listings.csv           image,listing_id,artefact_id   (so out_dir is also a benchmark)
    out_dir/views.json             which object and angle each photo shows (for tests and debugging)

Everything is drawn with numpy and PIL from the seed: nothing is copied from third-party images,
and the same arguments give the same bytes.
"""

from __future__ import annotations

import csv
import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from lootwatch.core.errors import BadInputError
from lootwatch.demo import catalogue
from lootwatch.demo.staging import gallery_photo, listing_photo, thumbnail
from lootwatch.demo.vessel import Light, Vessel, make_vessel, render

STYLES = ("plain", "jsonld", "js")
MIN_GAP_DEG = 20.0  # a listing view is at least this far from every gallery view
GALLERY_ELEVATION = 10.0
GALLERY_LIGHT = Light()


@dataclass(frozen=True)
class DemoData:
    out_dir: Path
    gallery_csv: Path
    artefacts_csv: Path
    site_dir: Path
    lots_json: Path
    answers_json: Path
    listings_csv: Path
    views_json: Path
    n_protected: int
    n_unprotected: int
    n_gallery_photos: int
    n_listing_photos: int
    n_lots: int
    n_protected_lots: int


@dataclass
class _Object:
    oid: str  # artefact id (protected) or U-nnn
    vessel: Vessel
    protected: bool
    gallery_angles: list[float]


def generate(
    out_dir: Path,
    *,
    seed: int = 7,
    n_protected: int = 8,
    n_unprotected: int = 16,
    gallery_views: int = 4,
    listing_views: tuple[int, int] = (1, 3),
    size: int = 256,
) -> DemoData:
    _check(n_protected, n_unprotected, gallery_views, listing_views, size)
    out_dir = Path(out_dir)
    site_dir = out_dir / "site"
    for stale in (out_dir / "gallery", site_dir):  # our own outputs only: never a stale photo left behind
        shutil.rmtree(stale, ignore_errors=True)
    (site_dir / "photos" / "thumb").mkdir(parents=True)
    master = np.random.default_rng(seed)
    views: dict[str, Any] = {"gallery": {}, "photos": {}}

    # protected artefacts: gallery photos and registry records
    objects: list[_Object] = []
    gallery_rows, artefact_rows = [], []
    n_collections = min(3, n_protected)
    for i in range(n_protected):
        rng = np.random.default_rng([seed, 1, i])
        aid = f"DEMO-{i + 1:03d}"
        vessel = make_vessel(rng)
        offset = float(rng.uniform(0, 360 / gallery_views))
        angles = [round((offset + k * 360 / gallery_views) % 360, 2) for k in range(gallery_views)]
        objects.append(_Object(aid, vessel, True, angles))
        collection = catalogue.COLLECTIONS[i % n_collections]
        folder = out_dir / "gallery" / aid
        folder.mkdir(parents=True)
        for k, angle in enumerate(angles):
            obj = render(vessel, size, angle=angle, elevation=GALLERY_ELEVATION, light=GALLERY_LIGHT)
            gallery_photo(obj, size).save(folder / f"{k:02d}.png", optimize=False)
            gallery_rows.append([f"gallery/{aid}/{k:02d}.png", aid, collection])
        views["gallery"][aid] = angles
        dec = vessel.decoration
        artefact_rows.append(
            [
                aid,
                catalogue.registry_title(rng, dec.style, vessel.kind),
                collection,
                catalogue.registry_description(rng, dec.style, vessel.kind, dec.motifs),
                catalogue.provenance(rng, collection, i + 1),
            ]
        )
    for j in range(n_unprotected):
        rng = np.random.default_rng([seed, 2, j])
        objects.append(_Object(f"U-{j + 1:03d}", make_vessel(rng), False, []))

    # which objects come up for sale: about 2/3 of the protected ones, every unprotected one
    protected = [o for o in objects if o.protected]
    n_listed = max(1, round(len(protected) * 2 / 3)) if protected else 0
    listed_protected = sorted(master.choice(len(protected), n_listed, replace=False).tolist()) if protected else []
    on_sale = [protected[k] for k in listed_protected] + [o for o in objects if not o.protected]
    styles: dict[str, str] = {}
    for group in ([o for o in on_sale if o.protected], [o for o in on_sale if not o.protected]):
        start = int(master.integers(len(STYLES)))  # each style gets protected and unprotected lots
        for k, o in enumerate(group):
            styles[o.oid] = STYLES[(start + k) % len(STYLES)]
    order = master.permutation(len(on_sale)).tolist()  # lot ids do not reveal which lots are protected
    script_lot = next((k for k in order if styles[on_sale[k].oid] == "jsonld"), order[0])

    lots, answers, listing_rows = [], {}, []
    n_photos = 0
    for number, k in enumerate(order):
        o = on_sale[k]
        lot_id = f"L{1001 + number}"
        rng = np.random.default_rng([seed, 3, number])
        seller = catalogue.SELLERS[int(rng.integers(len(catalogue.SELLERS)))]
        photos = []
        for p in range(int(rng.integers(listing_views[0], listing_views[1] + 1))):
            angle = _listing_angle(rng, o.gallery_angles)
            elevation = float(rng.uniform(2, 24))
            light = Light(
                direction=(
                    float(rng.uniform(-0.9, 0.9)),
                    float(rng.uniform(0.1, 0.9)),
                    float(rng.uniform(-0.9, -0.3)),
                ),
                ambient=float(rng.uniform(0.2, 0.45)),
                diffuse=float(rng.uniform(0.5, 0.9)),
                specular=float(rng.uniform(0.1, 0.5)),
            )
            obj = render(o.vessel, size, angle=angle, elevation=elevation, light=light)
            data, img = listing_photo(rng, obj, size, seller)
            name = f"{lot_id.lower()}-{p + 1}.jpg"
            (site_dir / "photos" / name).write_bytes(data)
            (site_dir / "photos" / "thumb" / name).write_bytes(thumbnail(img))
            photos.append(name)
            views["photos"][name] = {
                "object": o.oid,
                "angle": round(angle, 2),
                "elevation": round(elevation, 2),
            }
            listing_rows.append([f"site/photos/{name}", lot_id, o.oid if o.protected else ""])
            n_photos += 1
        price_text, amount, currency = catalogue.price(rng)
        lots.append(
            {
                "id": lot_id,
                "style": styles[o.oid],
                "title": catalogue.SCRIPT_TITLE if k == script_lot else catalogue.seller_title(rng, o.vessel.kind),
                "description": catalogue.seller_description(rng, o.vessel.kind),
                "price_text": price_text,
                "amount": amount,
                "currency": currency,
                "seller": seller,
                "end_date": catalogue.end_date(rng),
                "status": catalogue.status(rng),
                "photos": photos,
            }
        )
        answers[lot_id] = o.oid if o.protected else None

    paths = DemoData(
        out_dir=out_dir,
        gallery_csv=out_dir / "gallery.csv",
        artefacts_csv=out_dir / "artefacts.csv",
        site_dir=site_dir,
        lots_json=site_dir / "lots.json",
        answers_json=out_dir / "answers.json",
        listings_csv=out_dir / "listings.csv",
        views_json=out_dir / "views.json",
        n_protected=n_protected,
        n_unprotected=n_unprotected,
        n_gallery_photos=len(gallery_rows),
        n_listing_photos=n_photos,
        n_lots=len(lots),
        n_protected_lots=sum(1 for v in answers.values() if v),
    )
    _write_csv(paths.gallery_csv, ["image", "artefact_id", "collection"], gallery_rows)
    _write_csv(
        paths.artefacts_csv,
        ["artefact_id", "title", "collection", "description", "provenance"],
        artefact_rows,
    )
    _write_csv(paths.listings_csv, ["image", "listing_id", "artefact_id"], listing_rows)
    paths.lots_json.write_text(json.dumps(lots, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    paths.answers_json.write_text(json.dumps(answers, indent=1) + "\n", encoding="utf-8")
    paths.views_json.write_text(json.dumps(views, indent=1) + "\n", encoding="utf-8")
    return paths


def _check(n_protected: int, n_unprotected: int, gallery_views: int, listing_views: tuple[int, int], size: int) -> None:
    if n_protected < 1 or n_unprotected < 0:
        raise BadInputError("the demo needs at least one protected object and a non-negative number of others")
    if not 1 <= gallery_views <= int(360 // (2 * MIN_GAP_DEG)):
        raise BadInputError(
            f"gallery_views must be 1..{int(360 // (2 * MIN_GAP_DEG))}: listing views must stay "
            f"{MIN_GAP_DEG:g} degrees away from every gallery view"
        )
    lo, hi = listing_views
    if not 1 <= lo <= hi:
        raise BadInputError(f"listing_views must be (min, max) with 1 <= min <= max, not {listing_views}")
    if size < 64:
        raise BadInputError(f"size must be at least 64 pixels, not {size}")


def angle_gap(a: float, b: float) -> float:
    """Circular distance in degrees."""
    d = abs(a - b) % 360
    return min(d, 360 - d)


def _listing_angle(rng: np.random.Generator, gallery: list[float]) -> float:
    while True:  # terminates: _check leaves free arcs between gallery views
        a = float(rng.uniform(0, 360))
        if all(angle_gap(a, g) >= MIN_GAP_DEG + 0.5 for g in gallery):
            return a


def _write_csv(path: Path, header: list[str], rows: list[list[str]]) -> None:
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)
