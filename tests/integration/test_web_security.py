"""Attacks on the review app replayed over HTTP: copied session cookies, password guessing, hostile
input (NUL bytes, impossible dates, huge comments), script links and bidi tricks in page data."""

from __future__ import annotations

import re
import subprocess
import time
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from lootwatch.alerts.review import MAX_COMMENT

from lootwatch.core.db import Database
from lootwatch.core.settings import Settings
from lootwatch.web.accounts import add_user, disable_user
from lootwatch.web.app import create_app
from lootwatch.web.throttle import LoginThrottle
from tests.integration.test_alerts_cli import lootwatch
from tests.integration.test_alerts_seed import seed_item
from tests.integration.test_web_app import PASSWORD, _csrf, _login

pytestmark = pytest.mark.postgres


@pytest.fixture
def app(db: Database, settings: Settings) -> FastAPI:
    add_user(db, "ana", PASSWORD, "analyst")
    add_user(db, "root", PASSWORD, "admin")
    return create_app(settings, db, key="test-key", throttle=LoginThrottle(account_limit=3, client_limit=6))


def _copy(client: TestClient, app: FastAPI) -> TestClient:
    """A second browser holding the same cookie, as a thief who copied it would."""
    thief = TestClient(app)
    thief.cookies.set("lootwatch_session", client.cookies["lootwatch_session"])
    return thief


def _alive(client: TestClient) -> bool:
    r = client.get("/alerts", follow_redirects=False)
    return r.status_code == 200


@pytest.mark.parametrize("how", ["logout", "password", "disable", "cli-disable", "cli-passwd"])
def test_a_copied_cookie_dies_with_the_users_sessions(app: FastAPI, db: Database, tmp_path: Path, how: str) -> None:
    client = TestClient(app)
    _login(client, "ana")
    other_browser = TestClient(app)
    _login(other_browser, "ana")
    thief = _copy(client, app)
    assert _alive(thief) and _alive(other_browser)
    late_thief = _copy(thief, app)  # a copy that next shows up on a page needing no login
    token = _csrf(client.get("/alerts").text)
    if how == "logout":
        client.post("/logout", data={"csrf": token})
    elif how == "password":
        r = client.post(
            "/account/password",
            data={"csrf": token, "current": PASSWORD, "new": "a new long password", "repeat": "a new long password"},
        )
        assert r.url.path == "/login" and "every session was ended" in r.text
    elif how == "disable":
        assert disable_user(db, "ana") == 2
    else:
        env_input = "another long password\n"
        args = ["users", "disable", "ana"] if how == "cli-disable" else ["users", "passwd", "ana", "--password-stdin"]
        run = lootwatch(db, tmp_path, *args) if how == "cli-disable" else _with_stdin(db, tmp_path, env_input, *args)
        assert run.returncode == 0, run.stderr
        assert "2 session(s) ended" in run.stdout
    assert not _alive(thief) and not _alive(other_browser) and not _alive(client)
    assert "Log out" not in late_thief.get("/login").text  # the header names no one once the session is gone
    ended = db.fetchall("SELECT ended_reason FROM web_sessions ORDER BY id")
    assert len(ended) == 2 and all(r["ended_reason"] for r in ended)


def _with_stdin(db: Database, tmp_path: Path, stdin: str, *args: str) -> subprocess.CompletedProcess[str]:
    from tests.integration.test_alerts_cli import subprocess_input

    return subprocess_input(db, tmp_path, stdin, *args)


def test_the_cookie_holds_no_identity_a_forged_or_stale_token_is_refused(app: FastAPI, db: Database) -> None:
    client = TestClient(app)
    _login(client, "ana")
    row = db.fetchone("SELECT token_sha256, expires_at - created_at AS life FROM web_sessions")
    assert row is not None and len(row["token_sha256"]) == 64 and row["life"].total_seconds() == 8 * 3600
    db.execute("UPDATE web_sessions SET expires_at = now() - interval '1 second'")
    assert not _alive(client)


def _try(client: TestClient, username: str, password: str) -> int:
    token = _csrf(client.get("/login").text)
    return client.post("/login", data={"username": username, "password": password, "csrf": token}).status_code


def test_login_is_throttled_per_account_and_per_client(app: FastAPI, db: Database) -> None:
    client = TestClient(app)
    assert [_try(client, "ana", "wrong guess 1234") for _ in range(3)] == [401, 401, 401]
    started = time.perf_counter()
    token = _csrf(client.get("/login").text)
    r = client.post("/login", data={"username": "ana", "password": PASSWORD, "csrf": token})
    # even the right password waits: the throttle answers before any argon2 check
    assert r.status_code == 429 and "Too many failed logins for this account" in r.text
    assert int(r.headers["retry-after"]) == 30 and time.perf_counter() - started < 1.0
    # the delay doubles with each further failure once it has passed
    db.execute("UPDATE login_attempts SET attempted_at = attempted_at - interval '31 seconds'")
    assert _try(client, "ana", "wrong guess 1234") == 401
    token = _csrf(client.get("/login").text)
    r = client.post("/login", data={"username": "ana", "password": PASSWORD, "csrf": token})
    assert r.status_code == 429 and int(r.headers["retry-after"]) == 60
    # per client: guessing other accounts from the same address is stopped too
    assert [_try(client, f"user{n}", "wrong guess 1234") for n in range(2)] == [401, 401]
    assert _try(client, "root", PASSWORD) == 429
    outcomes = [r["outcome"] for r in db.fetchall("SELECT outcome FROM login_attempts ORDER BY id")]
    assert outcomes.count("failed") == 6 and outcomes.count("throttled") == 3 and "ok" not in outcomes
    # once the wait is over, the right password works and resets the account's count
    db.execute("UPDATE login_attempts SET attempted_at = attempted_at - interval '1 hour'")
    assert _try(client, "root", PASSWORD) == 200
    # the admin sees the failures
    admin_page = client.get("/admin/users").text
    assert admin_page.count(">throttled<") == 3 and "user0" in admin_page


def test_admin_pages_need_the_admin_role(app: FastAPI, db: Database) -> None:
    client = TestClient(app)
    _login(client, "ana")
    r = client.get("/admin/users")
    assert r.status_code == 403 and "Only an admin" in r.text
    other = TestClient(app)
    _login(other, "root")
    token = _csrf(other.get("/admin/users").text)
    ana = db.fetchone("SELECT id FROM users WHERE username = 'ana'")
    assert ana is not None
    r = other.post(f"/admin/users/{ana['id']}/end-sessions", data={"csrf": token})
    assert "1 session(s) of ana ended" in r.text and not _alive(client)


def test_bad_input_answers_4xx_with_a_message(app: FastAPI, db: Database) -> None:
    s = seed_item(db)
    client = TestClient(app)
    r = client.post("/login", data={"username": "ana\x00", "password": PASSWORD, "csrf": "x"})
    assert r.status_code == 400 and "NUL" in r.text
    _login(client, "ana")
    for query in ("state=new%00", "site=%00", "until=2020-01-01%00"):
        r = client.get(f"/alerts?{query}")
        assert r.status_code == 400 and "NUL character" in r.text, query
    for query, message in (
        ("until=9999-12-31", "out of range"),
        ("since=0001-01-01", "out of range"),
        ("since=2024-02-30", "is not a date"),
        ("min_score=nan", "finite"),
        ("min_score=high", "is not a number"),
        ("state=lost", "is not one of"),
        ("page=abc", "page"),
    ):
        r = client.get(f"/alerts?{query}")
        assert r.status_code == 400 and message in r.text, (query, r.status_code, r.text[-300:])
    assert client.get("/alerts/notanumber").status_code == 400
    for path in ("/alerts/99999999999999999999999", "/photos/listing/-1", "/snapshots/99999999999999999999"):
        assert client.get(path).status_code == 404, path
    assert client.get("/alerts?page=99999999999999999999999").status_code == 200  # the last page
    assert client.get("/alerts?page=-5").status_code == 200  # the first page
    assert client.get("/photos/other/1").status_code == 400
    assert client.get("/no/such/page").status_code == 404
    token = _csrf(client.get(f"/alerts/{s.item_id}").text)
    base = {"action": "escalate", "expect_state": "new", "csrf": token}
    r = client.post(f"/alerts/{s.item_id}/decide", data={**base, "comment": "fine\x00"})
    assert r.status_code == 400 and "NUL" in r.text
    r = client.post(f"/alerts/{s.item_id}/decide", data={**base, "comment": "x" * (MAX_COMMENT + 1)})
    assert r.status_code == 400 and f"at most {MAX_COMMENT}" in r.text
    r = client.post(f"/alerts/{s.item_id}/decide", data={**base, "expect_state": "gone", "comment": "ok"})
    assert r.status_code == 400 and "unknown action or state" in r.text
    r = client.post(f"/alerts/{s.item_id}/decide", data={**base, "comment": "y" * 70_000})
    assert r.status_code == 413
    assert db.fetchone("SELECT count(*) AS n FROM decisions") == {"n": 0}  # nothing recorded by any of them


def test_page_links_are_http_only_and_bidi_tricks_are_shown(app: FastAPI, db: Database) -> None:
    trick = "Roman bronze \u202egpj.exe\u202c lot"
    s = seed_item(db, title=trick)
    other = seed_item(db, 2, title="relisted")
    with db.transaction() as conn:
        conn.execute("UPDATE listings SET url = 'JavaScript:alert(1)' WHERE id = %s", (other.listing_id,))
        conn.execute(
            "INSERT INTO listing_photo_links (listing_id, photo_id) VALUES (%s, %s)", (other.listing_id, s.photo_id)
        )
        conn.execute("UPDATE listings SET url = ' javascript:alert(2)' WHERE id = %s", (s.listing_id,))
    client = TestClient(app)
    _login(client, "ana")
    page = client.get(f"/alerts/{s.item_id}").text
    hrefs = re.findall(r'href="([^"]*)"', page)
    assert hrefs and all(h.startswith(("/", "#", "http://", "https://")) for h in hrefs), hrefs
    assert "<code>JavaScript:alert(1)</code>" in page and " javascript:alert(2)</td>" in page  # shown as text
    assert "\u202e" not in page and "Roman bronze [U+202E]gpj.exe[U+202C] lot" in page
    queue = client.get("/alerts").text
    assert "\u202e" not in queue and "[U+202E]" in queue
