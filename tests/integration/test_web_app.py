"""The review app over HTTP (Starlette's test client on the real app and a real PostgreSQL)."""

from __future__ import annotations

import io
import re

import pytest
from fastapi.testclient import TestClient
from PIL import Image

from alerts.web.accounts import add_user, authenticate
from alerts.web.app import create_app
from lootwatch.db import Database
from lootwatch.errors import BadInputError
from lootwatch.settings import Settings
from lootwatch.storage import BlobStore
from tests.integration.test_alerts_seed import seed_item

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
    assert (
        f'src="/photos/listing/{s.photo_id}"' in page.text
        and f'src="/photos/gallery/{s.gallery_photo_id}"' in page.text
    )
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
