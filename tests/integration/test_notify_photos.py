"""Alert emails carry the listing photo and the matched gallery photo inline, read at send time."""

from __future__ import annotations

import io
import json
from email import message_from_bytes, policy

import pytest
from lootwatch.alerts.dispatch import deliver_due
from lootwatch.alerts.outbox import enqueue_notices
from PIL import Image

from lootwatch.core.db import Database
from lootwatch.core.settings import Settings
from tests.integration.test_alerts_seed import seed_item
from tests.integration.test_notify_delivery import _Inbox
from tests.integration.test_notify_delivery import smtp as smtp  # the fixture

pytestmark = pytest.mark.postgres


def _photo(size: tuple[int, int], colour: tuple[int, int, int], fmt: str = "PNG") -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, colour).save(out, fmt)
    return out.getvalue()


def _send(db: Database, cfg: Settings, item_id: int, inbox: _Inbox):
    with db.transaction() as conn:
        assert enqueue_notices(conn, item_id, cfg) == 1
    stats = deliver_due(db, cfg)
    assert (stats.sent, stats.retried, stats.dead) == (1, 0, 0)
    return message_from_bytes(inbox.messages[-1][1], policy=policy.default)


def test_email_has_both_photos_inline_and_small(db: Database, settings: Settings, smtp: tuple[int, _Inbox]) -> None:
    port, inbox = smtp
    cfg = settings.model_copy(update={"smtp_host": "127.0.0.1", "smtp_port": port, "email_to": ["desk@example.org"]})
    s = seed_item(db)
    paths = db.fetchone(
        """SELECT p.stored_path AS listing, g.stored_path AS gallery, p.sha256 AS sha FROM listing_photos p,
                  artefact_photos g WHERE p.id = %s AND g.id = %s""",
        (s.photo_id, s.gallery_photo_id),
    )
    assert paths is not None
    for rel, data in (
        (paths["listing"], _photo((1600, 1200), (200, 30, 30))),
        (paths["gallery"], _photo((128, 128), (30, 30, 200))),
    ):
        (cfg.store_dir / rel).parent.mkdir(parents=True, exist_ok=True)
        (cfg.store_dir / rel).write_bytes(data)

    msg = _send(db, cfg, s.item_id, inbox)
    payload = db.fetchone("SELECT payload FROM notifications")["payload"]  # type: ignore[index]
    assert [(p["role"], p["id"]) for p in payload["photos"]] == [
        ("listing", s.photo_id),
        ("gallery", s.gallery_photo_id),
    ]
    assert payload["photos"][0]["sha256"] == paths["sha"] and len(json.dumps(payload)) < 4000  # references only

    assert msg.get_content_type() == "multipart/alternative"
    plain, related = msg.iter_parts()
    assert related.get_content_type() == "multipart/related"
    html_part, *images = related.iter_parts()
    html = html_part.get_content()
    assert len(images) == 2 and all(i.get_content_type() == "image/jpeg" for i in images)
    for image in images:
        cid = image["Content-ID"].strip("<>")
        assert f'src="cid:{cid}"' in html
        with Image.open(io.BytesIO(image.get_content())) as decoded:
            assert decoded.format == "JPEG" and max(decoded.size) <= 360
    big = Image.open(io.BytesIO(images[0].get_content()))
    assert big.size == (360, 270) and len(images[0].get_content()) < 20_000  # 1600x1200 shrunk
    assert "Photos attached inline: listing photo" in plain.get_content()
    assert "Not attached" not in plain.get_content()


def test_missing_photo_file_does_not_block_the_email(
    db: Database, settings: Settings, smtp: tuple[int, _Inbox]
) -> None:
    port, inbox = smtp
    cfg = settings.model_copy(update={"smtp_host": "127.0.0.1", "smtp_port": port, "email_to": ["desk@example.org"]})
    s = seed_item(db)
    gallery = db.fetchone("SELECT stored_path FROM artefact_photos WHERE id = %s", (s.gallery_photo_id,))
    assert gallery is not None
    (cfg.store_dir / gallery["stored_path"]).parent.mkdir(parents=True, exist_ok=True)
    (cfg.store_dir / gallery["stored_path"]).write_bytes(_photo((300, 200), (10, 200, 10), "JPEG"))
    # the listing photo's file was never stored

    msg = _send(db, cfg, s.item_id, inbox)
    plain, related = msg.iter_parts()
    html_part, *images = related.iter_parts()
    assert len(images) == 1 and images[0]["Content-ID"].startswith("<gallery-")
    note = f"listing photo #{s.photo_id} (file missing from the store)"
    assert note in plain.get_content() and note in html_part.get_content()
    assert db.fetchone("SELECT status FROM notifications") == {"status": "sent"}
