"""The review app over HTTP (Starlette's test client on the real app and a real PostgreSQL)."""

from __future__ import annotations

import io
import json
import re
import zipfile
from typing import Any

import pytest
import torch
from fastapi.testclient import TestClient
from PIL import Image

from lootwatch.core.db import Database
from lootwatch.core.errors import BadInputError
from lootwatch.core.queueing import redis_connection
from lootwatch.core.settings import Settings
from lootwatch.core.storage import BlobStore
from lootwatch.web.accounts import add_user, authenticate
from lootwatch.web.app import create_app
from tests.fixtures.models.tiny_classifier import publish_tiny_classifier
from tests.fixtures.photos import jpeg, restage, textured
from tests.integration.test_alerts_seed import seed_item
from tests.integration.test_rules import make_world

pytestmark = pytest.mark.postgres
PASSWORD = "correct horse battery"


def _csrf(html: str) -> str:
    match = re.search(r'name="csrf" value="([^"]+)"', html)
    assert match, "no CSRF field in the page"
    return match.group(1)


def _login(client: TestClient, username: str) -> None:
    token = _csrf(client.get("/login").text)
    r = client.post("/login", data={"username": username, "password": PASSWORD, "csrf": token, "next": "/alerts"})
    assert r.status_code == 200 and r.url.path == "/alerts", r.text


@pytest.fixture
def client(db: Database, settings: Settings) -> TestClient:
    add_user(db, "ana", PASSWORD, "analyst")
    add_user(db, "root", PASSWORD, "admin")
    return TestClient(create_app(settings, db, key="test-key"))


def test_accounts_hash_and_refuse(db: Database) -> None:
    add_user(db, "ana", PASSWORD)
    stored = db.fetchone("SELECT password_hash, role FROM users WHERE username = 'ana'")
    assert stored is not None and stored["password_hash"].startswith("$argon2id$") and stored["role"] == "analyst"
    assert authenticate(db, "ana", PASSWORD) is not None
    assert authenticate(db, "ana", "wrong password!") is None
    assert authenticate(db, "nobody", PASSWORD) is None
    with pytest.raises(BadInputError, match="already exists"):
        add_user(db, "ana", PASSWORD)
    with pytest.raises(BadInputError, match="at least 10"):
        add_user(db, "ben", "short")
    with pytest.raises(BadInputError, match="role"):
        add_user(db, "ben", PASSWORD, "root")


def test_pages_need_login_and_login_needs_csrf(client: TestClient, db: Database) -> None:
    s = seed_item(db)
    r = client.get(f"/alerts/{s.item_id}", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == f"/login?next=%2Falerts%2F{s.item_id}"
    assert client.get(f"/photos/listing/{s.photo_id}", follow_redirects=False).status_code == 303
    r = client.post("/login", data={"username": "ana", "password": PASSWORD, "csrf": "forged"})
    assert r.status_code == 403
    token = _csrf(client.get("/login").text)
    r = client.post("/login", data={"username": "ana", "password": "nope nope nope", "csrf": token})
    assert r.status_code == 401 and "Wrong username or password" in r.text
    token = _csrf(client.get("/login").text)
    r = client.post(
        "/login",
        data={"username": "ana", "password": PASSWORD, "csrf": token, "next": "https://evil.example/"},
        follow_redirects=False,
    )
    assert r.status_code == 303 and r.headers["location"] == "/alerts"  # no open redirect
    assert "script-src" not in r.headers["content-security-policy"]  # default-src 'none': no scripts at all
    assert r.headers["x-frame-options"] == "DENY"


def test_queue_filters_and_pages(client: TestClient, db: Database) -> None:
    for n in range(1, 31):
        seed_item(
            db,
            n,
            score=0.5 + n / 100,
            site="alpha" if n <= 20 else "beta",
            collection="Museum A" if n % 2 else "Museum B",
        )
    _login(client, "ana")
    first = client.get("/alerts")
    assert "30 item(s), page 1 of 2" in first.text and first.text.count('class="open"') == 25
    second = client.get("/alerts?page=2")
    assert second.text.count('class="open"') == 5 and 'rel="prev"' in second.text
    beta = client.get("/alerts?site=beta&min_score=0.75")
    assert "6 item(s)" in beta.text  # items 25..30
    museum_b = client.get("/alerts?collection=Museum+B&state=new&since=2000-01-01&until=2999-12-31")
    assert "15 item(s)" in museum_b.text
    bad = client.get("/alerts?min_score=high")
    assert bad.status_code == 400 and "Bad filter" in bad.text


def test_item_page_escapes_and_decision_is_audited(client: TestClient, db: Database, settings: Settings) -> None:
    s = seed_item(db, title='<script>alert("x")</script><img src=x onerror=alert(1)>')
    png = io.BytesIO()
    Image.new("RGB", (8, 8), (200, 30, 30)).save(png, "PNG")
    _sha, rel = BlobStore(settings.store_dir).put("photos", png.getvalue(), ".png")
    db.execute("UPDATE listing_photos SET stored_path = %s WHERE id = %s", (rel, s.photo_id))
    _login(client, "ana")
    page = client.get(f"/alerts/{s.item_id}")
    assert page.status_code == 200
    assert "<script>alert" not in page.text and "<img src=x" not in page.text
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in page.text
    assert f'src="/photos/listing/{s.photo_id}"' in page.text
    # the seeded gallery photo has no file: a labelled placeholder, never a broken image
    assert f'src="/photos/gallery/{s.gallery_photo_id}"' not in page.text and "no stored gallery photo" in page.text
    photo = client.get(f"/photos/listing/{s.photo_id}")
    assert photo.status_code == 200 and photo.headers["content-type"] == "image/png" and photo.content == png.getvalue()
    assert client.get(f"/photos/gallery/{s.gallery_photo_id}").status_code == 404  # seed path has no file
    token = _csrf(page.text)

    forged = client.post(
        f"/alerts/{s.item_id}/decide",
        data={"action": "confirm", "comment": "x", "expect_state": "new", "csrf": "forged"},
    )
    assert forged.status_code == 403
    no_comment = client.post(
        f"/alerts/{s.item_id}/decide",
        data={"action": "confirm", "comment": " ", "expect_state": "new", "csrf": token},
    )
    assert no_comment.status_code == 400 and "needs a comment" in no_comment.text

    r = client.post(
        f"/alerts/{s.item_id}/decide",
        data={"action": "escalate", "comment": "needs the curator", "expect_state": "new", "csrf": token},
    )
    assert r.status_code == 200 and "Item 1: new → escalated." in r.text
    assert "an admin decides it" in r.text  # analysts cannot settle an escalated item
    denied = client.post(
        f"/alerts/{s.item_id}/decide",
        data={"action": "confirm", "comment": "sure", "expect_state": "escalated", "csrf": token},
    )
    assert denied.status_code == 403
    stale = client.post(
        f"/alerts/{s.item_id}/decide",
        data={"action": "confirm", "comment": "sure", "expect_state": "new", "csrf": token},
    )
    assert stale.status_code == 409 and "changed meanwhile" in stale.text

    client.post("/logout", data={"csrf": token})
    assert client.get("/alerts", follow_redirects=False).status_code == 303
    _login(client, "root")
    token = _csrf(client.get(f"/alerts/{s.item_id}").text)
    r = client.post(
        f"/alerts/{s.item_id}/decide",
        data={"action": "confirm", "comment": "matches TR-1", "expect_state": "escalated", "csrf": token},
    )
    assert r.status_code == 200 and "the decision is final" in r.text
    rows = db.fetchall("SELECT actor, from_state, to_state, comment FROM decisions ORDER BY id")
    assert [tuple(x.values()) for x in rows] == [
        ("ana", "new", "escalated", "needs the curator"),
        ("root", "escalated", "confirmed", "matches TR-1"),
    ]
    audit = r.text.split('id="audit"')[1]
    assert "needs the curator" in audit and "matches TR-1" in audit


def test_health_check_answers_without_login(client: TestClient) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200 and response.text == "ok"


def test_keyboard_shortcuts_are_accesskeys_with_a_legend(client: TestClient, db: Database) -> None:
    for n in range(1, 28):
        seed_item(db, n)
    _login(client, "ana")
    queue = client.get("/alerts").text
    for key in ("f", "g", "o", "n", "q"):
        assert f'accesskey="{key}"' in queue
    assert queue.count('accesskey="o"') == 1 and 'id="shortcuts"' in queue and "<kbd>n</kbd> next" in queue
    assert 'accesskey="p"' in client.get("/alerts?page=2").text
    item = client.get("/alerts/1")
    assert "script-src" not in item.headers["content-security-policy"] and "<script" not in item.text
    for key, action in (("c", "confirm"), ("d", "dismiss"), ("e", "escalate"), ("m", "")):
        assert f'accesskey="{key}"' in item.text and (not action or f"<kbd>{key}</kbd> {action}" in item.text)


def _store_listing_photo(settings: Settings, db: Database, photo_id: int, image: Image.Image) -> bytes:
    png = io.BytesIO()
    image.save(png, "PNG")
    sha, rel = BlobStore(settings.store_dir).put("photos", png.getvalue(), ".png")
    db.execute("UPDATE listing_photos SET stored_path = %s, sha256 = %s WHERE id = %s", (rel, sha, photo_id))
    return png.getvalue()


def test_evidence_bundle_downloads_as_a_zip(client: TestClient, db: Database) -> None:
    s = seed_item(db)
    assert client.get(f"/alerts/{s.item_id}/evidence.zip", follow_redirects=False).status_code == 303
    _login(client, "ana")
    assert 'href="/alerts/1/evidence.zip"' in client.get(f"/alerts/{s.item_id}").text
    r = client.get(f"/alerts/{s.item_id}/evidence.zip")
    assert r.status_code == 200 and r.headers["content-type"] == "application/zip"
    assert r.headers["content-disposition"] == 'attachment; filename="lootwatch-evidence-1.zip"'
    with zipfile.ZipFile(io.BytesIO(r.content)) as zf:
        manifest = json.loads(zf.read("manifest.json"))
        assert "SHA256SUMS" in zf.namelist()
    assert json.dumps(manifest).count(s.artefact_id) >= 1
    assert client.get(f"/alerts/{s.item_id}/evidence.zip").content == r.content  # deterministic
    assert client.get("/alerts/999/evidence.zip").status_code == 404


def _add_snapshot(db: Database, listing_id: int, rel: str) -> int:
    # page_snapshots is append-only: a new row, not an update of the seeded one
    row = db.fetchone(
        """INSERT INTO page_snapshots (listing_id, url, sha256, stored_path, http_status)
           VALUES (%s, 'https://example.test/lot/1', %s, %s, 200) RETURNING id""",
        (listing_id, "f" * 64, rel),
    )
    assert row is not None
    return int(row["id"])


def test_page_snapshot_is_served_as_sandboxed_text(client: TestClient, db: Database, settings: Settings) -> None:
    s = seed_item(db)
    html = b'<html><script>alert("pwned")</script><p>Bronze \xc3\xa9 lot</p></html>'
    _sha, rel = BlobStore(settings.store_dir).put("pages", html, ".html", compress=True)
    snap, escape = (_add_snapshot(db, s.listing_id, path) for path in (rel, "../../../../etc/passwd"))
    assert client.get(f"/snapshots/{snap}", follow_redirects=False).status_code == 303
    _login(client, "ana")
    assert f'href="/snapshots/{snap}"' in client.get(f"/alerts/{s.item_id}").text
    r = client.get(f"/snapshots/{snap}")
    assert r.status_code == 200 and r.content == html  # the exact bytes, un-gzipped
    assert r.headers["content-type"] == "text/plain; charset=utf-8"
    assert r.headers["content-security-policy"] == "sandbox" and r.headers["x-content-type-options"] == "nosniff"
    assert client.get("/snapshots/9999").status_code == 404
    assert client.get(f"/snapshots/{escape}").status_code == 404  # never outside the store


def test_saliency_overlay_needs_a_classifier_and_is_cached(
    client: TestClient, db: Database, settings: Settings
) -> None:
    torch.set_num_threads(1)
    s = seed_item(db)
    photo = Image.new("RGB", (96, 96), (40, 40, 40))
    photo.paste((230, 200, 40), (30, 30, 70, 70))
    _store_listing_photo(settings, db, s.photo_id, photo)
    assert client.get(f"/alerts/{s.item_id}/saliency.png", follow_redirects=False).status_code == 303
    _login(client, "ana")
    assert "no classifier trained yet" in client.get(f"/alerts/{s.item_id}").text
    none = client.get(f"/alerts/{s.item_id}/saliency.png")
    assert none.status_code == 404 and "no classifier trained yet" in none.text

    publish_tiny_classifier(settings.checkpoints_dir / "classifier", "clf-v1", [s.artefact_id, "OTHER"])
    page = client.get(f"/alerts/{s.item_id}").text
    assert f'src="/alerts/{s.item_id}/saliency.png"' in page and "no classifier trained yet" not in page
    r = client.get(f"/alerts/{s.item_id}/saliency.png")
    assert r.status_code == 200 and r.headers["content-type"] == "image/png"
    overlay = Image.open(io.BytesIO(r.content))
    assert overlay.format == "PNG" and overlay.size == (64, 64)
    sha = db.fetchone("SELECT sha256 FROM listing_photos WHERE id = %s", (s.photo_id,))
    assert sha is not None
    cached = settings.store_dir / "saliency" / sha["sha256"][:2] / f"{sha['sha256']}-clf-v1.png"
    assert cached.read_bytes() == r.content
    cached.write_bytes(b"cached")  # the second answer comes from the cache, not a recomputation
    assert client.get(f"/alerts/{s.item_id}/saliency.png").content == b"cached"


def test_confirm_queues_the_gallery_addition_for_a_worker(
    db: Database, settings: Settings, descriptor: Any, redis_url: str
) -> None:
    from lootwatch.alerts.rules import AlertRules
    from lootwatch.matcher.index import GalleryIndex
    from lootwatch.matcher.store import load_current, publish
    from lootwatch.workers.context import WorkerContext, install
    from lootwatch.workers.engine import MatchEngine
    from rq import Queue, SimpleWorker
    from rq.serializers import JSONSerializer

    from lootwatch.core.gallery_photos import GalleryPhoto
    from lootwatch.core.images import vet_image

    world = make_world(db, settings)
    g1 = world.artefact("A1", jpeg(textured(1)))
    g2 = world.artefact("A2", jpeg(textured(2)))
    rows = db.fetchall("SELECT id, artefact_id, stored_path FROM artefact_photos ORDER BY id")
    gallery = [
        GalleryPhoto(r["artefact_id"], photo_id=r["id"], image=vet_image(world.store.read(r["stored_path"])).image)
        for r in rows
    ]
    publish(GalleryIndex.build(descriptor, gallery, calibrate=False, threshold=0.8), settings.index_dir)
    _, photos = world.listing("lot-1", [jpeg(restage(textured(1)))])
    world.match(photos[0], "A1", 0.9, g1)
    (item_id,) = world.decide(photos, AlertRules(threshold=0.8))
    _, others = world.listing("lot-2", [jpeg(restage(textured(2)))])
    world.match(others[0], "A2", 0.9, g2)
    (other_id,) = world.decide(others, AlertRules(threshold=0.8))
    add_user(db, "ana", PASSWORD, "analyst")
    client = TestClient(create_app(world.settings, db, key="test-key", redis_url=redis_url))
    _login(client, "ana")
    page = client.get(f"/alerts/{item_id}").text
    assert 'name="add_to_gallery"' in page
    form = {"action": "confirm", "comment": "museum confirms", "expect_state": "new", "add_to_gallery": "1"}
    r = client.post(f"/alerts/{item_id}/decide", data={**form, "csrf": _csrf(page)})
    assert r.status_code == 200 and "new → confirmed." in r.text and "queued for the workers" in r.text
    # nothing was added inside the request: a job with a JSON argument waits for a worker
    assert db.fetchall("SELECT id FROM artefact_photos WHERE from_listing_photo_id IS NOT NULL") == []
    queue = Queue(settings.queue_name, connection=redis_connection(redis_url), serializer=JSONSerializer)
    job = queue.fetch_job(f"gallery-add-{item_id}")
    assert job is not None and job.func_name == "lootwatch.workers.jobs.add_to_gallery" and list(job.args) == [item_id]
    assert "Gallery addition: queued: waiting for a worker" in client.get(f"/alerts/{item_id}").text

    # the worker: its settings name the descriptor the test index was built with
    worker_settings = world.settings.model_copy(update={"descriptor": "imagenet-lite0-gem"})
    engine = MatchEngine(worker_settings.descriptor, settings.index_dir)
    install(WorkerContext(worker_settings, db, world.store, engine))
    worker = SimpleWorker([queue], connection=queue.connection, serializer=JSONSerializer)
    assert worker.work(burst=True)
    added = db.fetchall("SELECT artefact_id FROM artefact_photos WHERE from_listing_photo_id = %s", (photos[0],))
    assert added == [{"artefact_id": "A1"}]
    assert len(load_current(settings.index_dir, expect_card=descriptor.card).artefact_of) == 3
    assert (
        "Gallery addition: Gallery of A1: 1 photo(s) added, 1 indexed (index " in client.get(f"/alerts/{item_id}").text
    )

    # idempotent: running the job again adds nothing
    from lootwatch.workers.jobs import add_to_gallery

    again = add_to_gallery(item_id)
    assert again["added_photo_ids"] == [] and again["indexed_photo_ids"] == [] and again["index_version"] is None

    # the queue down: the confirmation stands, the flash says the photos were not queued
    down = TestClient(create_app(world.settings, db, key="test-key", redis_url="redis://127.0.0.1:1/0"))
    _login(down, "ana")
    page = down.get(f"/alerts/{other_id}").text
    r = down.post(f"/alerts/{other_id}/decide", data={**form, "comment": "yes", "csrf": _csrf(page)})
    assert r.status_code == 200 and "new → confirmed." in r.text and "were NOT queued for the gallery" in r.text


def test_item_page_shows_listing_history_and_relistings(client: TestClient, db: Database) -> None:
    _login(client, "ana")
    s = seed_item(db, title="Attic krater")
    other = seed_item(db, 2, title="Greek vase, private collection <b>")
    with db.transaction() as conn:
        conn.execute(
            "INSERT INTO listing_history (listing_id, field, old_value, new_value) VALUES (%s, 'price_text', %s, %s)",
            (s.listing_id, "EUR 1,200", "EUR 950"),
        )
        # the second listing shows the first one's photo: a relisting
        conn.execute(
            "INSERT INTO listing_photo_links (listing_id, photo_id) VALUES (%s, %s)", (other.listing_id, s.photo_id)
        )
    page = client.get(f"/alerts/{s.item_id}")
    assert page.status_code == 200
    history = page.text[page.text.index('id="history"') : page.text.index('id="relistings"')]
    assert "price_text" in history and "EUR 1,200" in history and "EUR 950" in history
    relistings = page.text[page.text.index('id="relistings"') : page.text.index("<h2>Evidence")]
    assert "Greek vase, private collection &lt;b&gt;" in relistings
