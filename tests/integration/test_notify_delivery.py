"""The notices outbox against a real SMTP server (aiosmtpd) and a real HTTP webhook endpoint."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from email import message_from_bytes, policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from aiosmtpd.controller import Controller
from lootwatch.alerts.dispatch import deliver_due, run_sender
from lootwatch.alerts.outbox import enqueue_notices

from lootwatch.core.db import Database
from lootwatch.core.settings import Settings
from tests.integration.test_alerts_seed import seed_item

pytestmark = pytest.mark.postgres


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class _Inbox:
    """aiosmtpd handler keeping every message it accepts."""

    def __init__(self) -> None:
        self.messages: list[tuple[list[str], bytes]] = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's hook name
        self.messages.append((list(envelope.rcpt_tos), envelope.original_content or envelope.content))
        return "250 OK"


@pytest.fixture
def smtp() -> Iterator[tuple[int, _Inbox]]:
    inbox = _Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=_free_port())
    controller.start()
    try:
        yield controller.port, inbox
    finally:
        controller.stop()


class Webhook:
    """A local webhook: answers each POST with the next planned status (then 200) and records it."""

    def __init__(self) -> None:
        self.plan: list[int] = []
        self.always: int | None = None
        self.requests: list[tuple[int, dict, dict]] = []  # (status answered, headers, json body)
        self.lock = threading.Lock()
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's hook name
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with hook.lock:
                    status = hook.always or (hook.plan.pop(0) if hook.plan else 200)
                    hook.requests.append((status, dict(self.headers), body))
                self.send_response(status)
                self.end_headers()
                self.wfile.write(b"ok" if status == 200 else b"internal error")

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def delivered(self) -> list[dict]:
        return [body for status, _h, body in self.requests if status == 200]


@pytest.fixture
def webhook() -> Iterator[Webhook]:
    hook = Webhook()
    try:
        yield hook
    finally:
        hook.server.shutdown()
        hook.server.server_close()


def _notices(db: Database) -> list[dict]:
    return db.fetchall("SELECT * FROM notifications ORDER BY id")


def _enqueue(db: Database, item_id: int, settings: Settings) -> int:
    with db.transaction() as conn:
        return enqueue_notices(conn, item_id, settings)


def test_enqueue_writes_one_notice_per_channel_once(db: Database, settings: Settings) -> None:
    s = seed_item(db, title="Vase <script>alert(1)</script>")
    cfg = settings.model_copy(
        update={
            "smtp_host": "127.0.0.1",
            "email_to": ["desk@example.org"],
            "slack_webhook_url": "http://127.0.0.1:9/hook",
            "review_base_url": "https://review.example/",
        }
    )
    assert _enqueue(db, s.item_id, settings) == 0  # nothing configured: nothing written
    assert _enqueue(db, s.item_id, cfg) == 2
    assert _enqueue(db, s.item_id, cfg) == 0  # idempotent
    email, slack = _notices(db)
    assert (email["channel"], email["idempotency_key"], email["status"]) == (
        "email",
        f"review:{s.item_id}:email",
        "pending",
    )
    assert slack["idempotency_key"] == f"review:{s.item_id}:slack"
    link = f"https://review.example/alerts/{s.item_id}"
    p = email["payload"]
    assert p["to"] == ["desk@example.org"] and p["link"] == link
    assert "A0001" in p["subject"] and "0.91" in p["subject"]
    assert "&lt;script&gt;" in p["html"] and "<script>" not in p["html"] and link in p["html"]
    assert "https://example.test/lot/1" in p["text"]
    blocks = slack["payload"]["slack"]["blocks"]
    assert "&lt;script&gt;" in blocks[0]["text"]["text"] and blocks[2]["elements"][0]["url"] == link


def test_notices_roll_back_with_the_review_item(db: Database, settings: Settings) -> None:
    s = seed_item(db)
    cfg = settings.model_copy(update={"slack_webhook_url": "http://127.0.0.1:9/hook"})
    with pytest.raises(RuntimeError), db.transaction() as conn:
        assert enqueue_notices(conn, s.item_id, cfg) == 1
        raise RuntimeError("worker crashed before commit")
    assert _notices(db) == []


def test_email_is_delivered_once_with_a_stable_message_id(
    db: Database, settings: Settings, smtp: tuple[int, _Inbox]
) -> None:
    port, inbox = smtp
    cfg = settings.model_copy(
        update={
            "smtp_host": "127.0.0.1",
            "smtp_port": port,
            "email_to": ["desk@example.org"],
            "email_from": "lootwatch@heritage.example",
        }
    )
    s = seed_item(db)
    _enqueue(db, s.item_id, cfg)
    stats = deliver_due(db, cfg)
    assert (stats.claimed, stats.sent, stats.retried, stats.dead) == (1, 1, 0, 0)
    assert deliver_due(db, cfg).claimed == 0
    assert len(inbox.messages) == 1
    rcpt, raw = inbox.messages[0]
    msg = message_from_bytes(raw, policy=policy.default)
    assert rcpt == ["desk@example.org"]
    assert msg["Message-ID"] == f"<review.{s.item_id}.email.lootwatch@heritage.example>"
    assert msg["X-Lootwatch-Ref"] == f"review:{s.item_id}:email"
    assert [p.get_content_type() for p in msg.iter_parts()] == ["text/plain", "text/html"]
    assert "Bronze figure of a deity" in str(msg["Subject"])
    row = _notices(db)[0]
    assert row["status"] == "sent" and row["attempts"] == 1 and row["sent_at"] is not None


def test_smtp_down_is_retried_with_the_error_recorded(db: Database, settings: Settings) -> None:
    cfg = settings.model_copy(
        update={
            "smtp_host": "127.0.0.1",
            "smtp_port": _free_port(),
            "email_to": ["desk@example.org"],
            "notice_backoff_s": 30.0,
        }
    )
    s = seed_item(db)
    _enqueue(db, s.item_id, cfg)
    stats = deliver_due(db, cfg)
    assert (stats.sent, stats.retried) == (0, 1)
    row = db.fetchone("SELECT *, extract(epoch FROM next_attempt_at - now()) AS wait FROM notifications")
    assert row is not None and row["status"] == "pending" and row["attempts"] == 1
    assert "SMTP 127.0.0.1" in row["last_error"]
    assert 25 < float(row["wait"]) <= 30


def test_failing_webhook_is_retried_with_backoff_then_sent_exactly_once(
    db: Database, settings: Settings, webhook: Webhook
) -> None:
    cfg = settings.model_copy(update={"slack_webhook_url": webhook.url, "notice_backoff_s": 0.5})
    s = seed_item(db)
    _enqueue(db, s.item_id, cfg)
    webhook.plan = [500, 500]

    def wait_left() -> float:
        row = db.fetchone("SELECT extract(epoch FROM next_attempt_at - now()) AS w FROM notifications")
        return float(row["w"]) if row else 0.0

    assert deliver_due(db, cfg).retried == 1
    first_wait = wait_left()
    assert 0.3 < first_wait <= 0.5  # backoff_s * 2**0
    assert deliver_due(db, cfg).claimed == 0  # not due yet
    time.sleep(first_wait + 0.05)
    assert deliver_due(db, cfg).retried == 1
    second_wait = wait_left()
    assert 0.8 < second_wait <= 1.0  # doubled
    row = _notices(db)[0]
    assert row["status"] == "pending" and row["attempts"] == 2 and "answered 500" in row["last_error"]
    time.sleep(second_wait + 0.05)
    assert deliver_due(db, cfg).sent == 1
    time.sleep(0.1)
    assert deliver_due(db, cfg).claimed == 0
    assert [status for status, _h, _b in webhook.requests] == [500, 500, 200]
    assert len(webhook.delivered()) == 1
    assert all(h["Idempotency-Key"] == f"review:{s.item_id}:slack" for _s, h, _b in webhook.requests)
    row = _notices(db)[0]
    assert (row["status"], row["attempts"], row["last_error"]) == ("sent", 3, "")


def test_notice_dies_after_max_attempts(db: Database, settings: Settings, webhook: Webhook) -> None:
    cfg = settings.model_copy(
        update={"slack_webhook_url": webhook.url, "notice_backoff_s": 0.01, "notice_max_attempts": 3}
    )
    webhook.always = 500
    s = seed_item(db)
    _enqueue(db, s.item_id, cfg)
    dead = 0
    deadline = time.monotonic() + 10
    while not dead and time.monotonic() < deadline:
        dead = deliver_due(db, cfg).dead
        time.sleep(0.05)
    row = _notices(db)[0]
    assert (row["status"], row["attempts"]) == ("dead", 3)
    assert "answered 500" in row["last_error"]
    assert len(webhook.requests) == 3
    time.sleep(0.1)
    assert deliver_due(db, cfg).claimed == 0 and len(webhook.requests) == 3


def test_crashed_sender_lease_is_reclaimed(db: Database, settings: Settings, webhook: Webhook) -> None:
    cfg = settings.model_copy(update={"slack_webhook_url": webhook.url})
    crashed, busy = seed_item(db, 1), seed_item(db, 2)
    _enqueue(db, crashed.item_id, cfg)
    _enqueue(db, busy.item_id, cfg)
    # one sender died mid-send a while ago; another is sending right now (lease still running)
    db.execute(
        """UPDATE notifications SET status = 'sending', attempts = 1,
                  next_attempt_at = now() - interval '1 s' WHERE review_item_id = %s""",
        (crashed.item_id,),
    )
    db.execute(
        """UPDATE notifications SET status = 'sending', attempts = 1,
                  next_attempt_at = now() + interval '5 min' WHERE review_item_id = %s""",
        (busy.item_id,),
    )
    stats = deliver_due(db, cfg)
    assert (stats.claimed, stats.reclaimed, stats.sent) == (1, 1, 1)
    rows = {r["review_item_id"]: r for r in _notices(db)}
    assert (rows[crashed.item_id]["status"], rows[crashed.item_id]["attempts"]) == ("sent", 2)
    assert rows[busy.item_id]["status"] == "sending"
    # the re-sent copy carries the same ref as the (possibly) delivered first one
    assert webhook.delivered()[0]["blocks"][-1]["elements"][0]["text"] == f"ref: review:{crashed.item_id}:slack"


def test_concurrent_senders_send_each_notice_once(db: Database, settings: Settings, webhook: Webhook) -> None:
    cfg = settings.model_copy(update={"slack_webhook_url": webhook.url})
    for n in range(1, 21):
        _enqueue(db, seed_item(db, n).item_id, cfg)
    results = []
    threads = [threading.Thread(target=lambda: results.append(deliver_due(db, cfg, limit=7))) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    while (extra := deliver_due(db, cfg)).claimed:
        results.append(extra)
    assert sum(r.sent for r in results) == 20
    keys = [h["Idempotency-Key"] for _s, h, _b in webhook.requests]
    assert len(keys) == 20 and len(set(keys)) == 20
    assert db.fetchone("SELECT count(*) AS n FROM notifications WHERE status = 'sent'") == {"n": 20}


def test_run_sender_delivers_until_stopped(db: Database, settings: Settings, webhook: Webhook) -> None:
    cfg = settings.model_copy(update={"slack_webhook_url": webhook.url})
    stop = threading.Event()
    totals = []
    sender = threading.Thread(target=lambda: totals.append(run_sender(db, cfg, stop, poll_s=0.05)))
    sender.start()
    try:
        _enqueue(db, seed_item(db).item_id, cfg)
        deadline = time.monotonic() + 10
        while not webhook.delivered() and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        stop.set()
        sender.join(10)
    assert not sender.is_alive()
    assert totals[0].sent == 1 and len(webhook.delivered()) == 1
