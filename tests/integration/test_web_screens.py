"""What the analyst sees: the queue grouped by listing with thumbnails, and the alert page with the
two photos side by side, the inlier picture, the photo strip with refusals, the form on top."""

from __future__ import annotations

import io

import pytest
from fastapi.testclient import TestClient
from PIL import Image
from psycopg.types.json import Jsonb

from lootwatch.core.db import Database
from lootwatch.core.settings import Settings
from lootwatch.core.storage import BlobStore
from lootwatch.web.accounts import add_user
from lootwatch.web.app import create_app
from tests.fixtures.photos import jpeg, restage, textured
from tests.integration.test_alerts_seed import seed_item
from tests.integration.test_web_app import PASSWORD, _login

pytestmark = pytest.mark.postgres


@pytest.fixture
def client(db: Database, settings: Settings) -> TestClient:
    add_user(db, "ana", PASSWORD, "analyst")
    c = TestClient(create_app(settings, db, key="test-key"))
    _login(c, "ana")
    return c


def _store(settings: Settings, db: Database, table: str, photo_id: int, data: bytes) -> None:
    sha, rel = BlobStore(settings.store_dir).put("photos", data, ".jpg")
    db.execute(f"UPDATE {table} SET stored_path = %s, sha256 = %s WHERE id = %s", (rel, sha, photo_id))


def test_queue_groups_a_listings_alerts_with_thumbnails_and_facts(
    client: TestClient, db: Database, settings: Settings
) -> None:
    a = seed_item(db, 1, title="Bronze horse", score=0.95)
    b = seed_item(db, 2, title="Other lot", score=0.80)
    # a second artefact matched by the first listing's photo: one more alert on the same listing
    second = seed_item(db, 3, title="unused")
    with db.transaction() as conn:
        conn.execute("UPDATE review_items SET listing_id = %s WHERE id = %s", (a.listing_id, second.item_id))
        conn.execute("UPDATE listings SET seller = 'hermes-antik', price_text = 'EUR 4,900' WHERE id = %s",
                     (a.listing_id,))  # fmt: skip
    tiny = io.BytesIO()
    Image.new("RGB", (32, 24), (120, 90, 40)).save(tiny, "JPEG")
    _store(settings, db, "listing_photos", a.photo_id, tiny.getvalue())
    _store(settings, db, "artefact_photos", a.gallery_photo_id, jpeg(textured(1)))
    page = client.get("/alerts").text
    blocks = page.split('<article class="listing"')[1:]
    assert len(blocks) == 2
    first = next(blk for blk in blocks if "Bronze horse" in blk)
    assert first.count('class="open"') == 2 and "2 artefacts match this listing" in first
    assert "hermes-antik" in first and "EUR 4,900" in first and "example" in first
    assert f'src="/photos/listing/{a.photo_id}/thumb.jpg"' in first
    assert f'src="/photos/gallery/{a.gallery_photo_id}/thumb.jpg"' in first
    other = next(blk for blk in blocks if "Other lot" in blk)
    assert "thumb.jpg" not in other and "no stored photo" in other  # no file: a label, not a broken image
    assert f'href="/alerts/{b.item_id}"' in other
    thumb = client.get(f"/photos/listing/{a.photo_id}/thumb.jpg")
    assert thumb.status_code == 200 and thumb.headers["content-type"] == "image/jpeg"
    assert Image.open(io.BytesIO(thumb.content)).size == (160, 120)  # a 32 px photo is scaled up, not shown tiny


def test_alert_page_compares_large_draws_inliers_and_labels_refusals(
    client: TestClient, db: Database, settings: Settings
) -> None:
    s = seed_item(db, title="Stolen relief")
    gallery = textured(5)
    _store(settings, db, "listing_photos", s.photo_id, jpeg(restage(gallery)))
    _store(settings, db, "artefact_photos", s.gallery_photo_id, jpeg(gallery))
    geometry = {"available": True, "inliers": 40, "good_matches": 60, "passed": True, "reason": "", "min_inliers": 12}
    with db.transaction() as conn:
        conn.execute("UPDATE review_items SET rule_evidence = %s WHERE id = %s",
                     (Jsonb({"passed_by": "geometry", "geometry": geometry}), s.item_id))  # fmt: skip
        conn.execute("UPDATE listings SET description = %s WHERE id = %s", ("Fine relief. " * 60, s.listing_id))
        rejected = conn.execute(
            """INSERT INTO listing_photos (sha256, source_url, status, reason)
               VALUES (%s, 'https://example.test/bomb.png', 'rejected', 'decompression bomb: too many pixels')
               RETURNING id""",
            ("d" * 64,),
        ).fetchone()
        assert rejected is not None
        conn.execute("INSERT INTO listing_photo_links (listing_id, photo_id, position) VALUES (%s, %s, 5)",
                     (s.listing_id, rejected["id"]))  # fmt: skip
    page = client.get(f"/alerts/{s.item_id}").text
    # the decision form comes before the evidence, so it is reachable without scrolling past it
    assert page.index('id="decide"') < page.index('id="compare"') < page.index('id="strip"')
    compare = page[page.index('id="compare"') : page.index('id="geometry"')]
    assert f'src="/photos/listing/{s.photo_id}"' in compare and f'src="/photos/gallery/{s.gallery_photo_id}"' in compare
    assert 'href="#zoom-listing"' in compare and 'id="zoom-listing"' in compare  # enlarge without JavaScript
    assert "40 inlier pairs of 60 matching keypoints (the rule needs 12): passed" in page
    strip = page[page.index('id="strip"') : page.index("<h2>Listing</h2>")]
    assert "rejected: decompression bomb: too many pixels" in strip
    assert f"/photos/listing/{rejected['id']}" not in strip  # no image for a refused photo
    assert '<details class="description"><summary>' in page and "(show all 780 characters)" in page

    picture = client.get(f"/alerts/{s.item_id}/geometry.png")
    assert picture.status_code == 200 and picture.headers["content-type"] == "image/png"
    drawn = Image.open(io.BytesIO(picture.content)).convert("RGB")
    assert drawn.height == 480 and drawn.width > 900
    # lines in the gutter between the two photos: the pairs are drawn across
    gutter = [drawn.getpixel((x, y)) for x in range(drawn.width // 2 - 4, drawn.width // 2 + 4) for y in range(480)]
    assert sum(1 for p in gutter if p != (255, 255, 255)) > 20
    assert client.get(f"/alerts/{s.item_id}/geometry.png").content == picture.content  # cached, same bytes
    assert client.get("/alerts/999/geometry.png").status_code == 404
