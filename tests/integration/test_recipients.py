"""Recipient rules: immediate notices per recipient and collection, one daily digest per recipient and day."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from lootwatch.alerts.dispatch import deliver_due
from lootwatch.alerts.outbox import enqueue_notices
from lootwatch.alerts.recipients import add_recipient, enqueue_digests, list_recipients, remove_recipient

from lootwatch.core.db import Database
from lootwatch.core.errors import BadInputError
from lootwatch.core.settings import Settings
from tests.integration.test_alerts_cli import ROOT
from tests.integration.test_alerts_seed import seed_item
from tests.integration.test_notify_delivery import Webhook
from tests.integration.test_notify_delivery import webhook as webhook

pytestmark = pytest.mark.postgres
DAY = datetime(2030, 5, 10, tzinfo=UTC)  # the alerts' day; digests go out the next


def _at(db: Database, item_id: int, when: datetime) -> None:
    db.execute("UPDATE review_items SET created_at = %s WHERE id = %s", (when, item_id))


def test_recipients_are_validated_and_removed(db: Database) -> None:
    rid = add_recipient(db, "email", " Desk@Example.org ", "daily", "Museum A")
    with pytest.raises(BadInputError, match="already recipient"):
        add_recipient(db, "email", "desk@example.org", "immediate", "Museum A")
    with pytest.raises(BadInputError, match="not an email"):
        add_recipient(db, "email", "desk@example.org, evil@example.org")
    with pytest.raises(BadInputError, match="webhook URL"):
        add_recipient(db, "slack", "#channel")
    with pytest.raises(BadInputError, match="mode"):
        add_recipient(db, "slack", "https://hooks.example/x", "weekly")
    assert [(r["address"], r["mode"], r["collection"]) for r in list_recipients(db)] == [
        ("Desk@Example.org", "daily", "Museum A")
    ]
    assert remove_recipient(db, rid) and not remove_recipient(db, rid)
    assert list_recipients(db) == [] and len(list_recipients(db, include_removed=True)) == 1
    add_recipient(db, "email", "desk@example.org", "daily", "Museum A")  # may come back


def test_immediate_recipients_follow_their_collection(db: Database, settings: Settings, webhook: Webhook) -> None:
    cfg = settings.model_copy(update={"slack_webhook_url": webhook.url})
    museum_a = add_recipient(db, "slack", webhook.url + "?a", "immediate", "Museum A")
    add_recipient(db, "slack", webhook.url + "?b", "immediate", "Museum B")
    add_recipient(db, "slack", webhook.url + "?daily", "daily")  # digest only
    add_recipient(db, "slack", webhook.url, "immediate")  # same as the settings' one: not twice
    add_recipient(db, "email", "desk@example.org")  # no smtp_host: skipped
    s = seed_item(db, collection="Museum A")
    with db.transaction() as conn:
        assert enqueue_notices(conn, s.item_id, cfg) == 2
    with db.transaction() as conn:
        assert enqueue_notices(conn, s.item_id, cfg) == 0
    keys = [r["idempotency_key"] for r in db.fetchall("SELECT idempotency_key FROM notifications ORDER BY id")]
    assert keys == [f"review:{s.item_id}:slack", f"review:{s.item_id}:slack:r{museum_a}"]
    assert deliver_due(db, cfg).sent == 2
    paths = sorted(h["Idempotency-Key"] for _s, h, _b in webhook.requests)
    assert paths == keys
    assert len(webhook.requests) == 2


def test_daily_digest_once_per_recipient_and_day(db: Database, settings: Settings, webhook: Webhook) -> None:
    rid = add_recipient(db, "slack", webhook.url, "daily", "Museum A")
    db.execute("UPDATE notice_recipients SET created_at = %s", (DAY - timedelta(days=3),))
    items = [seed_item(db, n, collection="Museum A", title=f"Vase {n} <b>") for n in (1, 2)]
    other = seed_item(db, 3, collection="Museum B")
    _at(db, items[0].item_id, DAY + timedelta(hours=9))
    _at(db, items[1].item_id, DAY + timedelta(hours=23))
    _at(db, other.item_id, DAY + timedelta(hours=10))
    later = seed_item(db, 4, collection="Museum A")
    _at(db, later.item_id, DAY + timedelta(days=1, hours=8))  # belongs to the next digest

    assert enqueue_digests(db, settings, DAY + timedelta(hours=20)).written == 0  # day not over
    assert enqueue_digests(db, settings, DAY + timedelta(days=1, seconds=30)).written == 0  # grace
    next_morning = DAY + timedelta(days=1, minutes=5)
    assert enqueue_digests(db, settings, next_morning).written == 1
    assert enqueue_digests(db, settings, next_morning + timedelta(hours=1)).written == 0
    assert enqueue_digests(db, settings, next_morning, force=True).written == 0  # one per day
    row = db.fetchone("SELECT * FROM notifications")
    assert row is not None and row["idempotency_key"] == f"digest:{rid}:2030-05-11" and row["recipient_id"] == rid
    assert row["review_item_id"] is None and row["payload"]["items"] == 2

    assert deliver_due(db, settings).sent == 1  # the recipient's own webhook, none in settings
    body = webhook.delivered()[0]
    listed = body["blocks"][1]["text"]["text"]
    assert "Vase 1 &lt;b&gt;" in listed and "Vase 2" in listed and "A0003" not in listed and "A0004" not in listed
    assert "2 new" in body["blocks"][0]["text"]["text"]

    # forced the day after: the 8:00 alert goes now, and is not repeated at the next midnight
    assert enqueue_digests(db, settings, DAY + timedelta(days=2, hours=12), force=True).written == 1
    assert enqueue_digests(db, settings, DAY + timedelta(days=3, minutes=5)).written == 0
    assert deliver_due(db, settings).sent == 1
    assert "Vase" not in webhook.delivered()[1]["blocks"][1]["text"]["text"]
    assert "A0004" in webhook.delivered()[1]["blocks"][1]["text"]["text"]
    assert len(webhook.requests) == 2


def test_recipients_and_digest_now_from_the_command_line(db: Database, tmp_path: Path, webhook: Webhook) -> None:
    # `recipients` is not in lootwatch.cli.COMMAND_MODULES yet: run the two command modules on their own app
    code = (
        "import typer; from lootwatch.cli import notify, recipients; app = typer.Typer(); "
        "recipients.register(app); notify.register(app); app()"
    )

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        env = {
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "LOOTWATCH_DATABASE_URL": db.url,
            "LOOTWATCH_REDIS_URL": "redis://127.0.0.1:1/0",  # named, never contacted
            "LOOTWATCH_DATA_DIR": str(tmp_path / "data"),
            "COLUMNS": "200",
        }
        return subprocess.run(
            [sys.executable, "-c", code, *args], capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120
        )

    added = run("recipients", "add", "slack", webhook.url, "--mode", "daily")
    assert added.returncode == 0, added.stderr
    assert "recipient 1: slack" in added.stdout and "daily" in added.stdout
    listed = run("recipients", "list")
    assert listed.returncode == 0 and webhook.url in listed.stdout and "daily" in listed.stdout
    seed_item(db, title="Bronze head")
    sent = run("notify", "--digest-now")
    assert sent.returncode == 0, sent.stderr
    assert "1 digest(s) queued" in sent.stdout and "1 sent" in sent.stdout
    assert "Bronze head" in webhook.delivered()[0]["blocks"][1]["text"]["text"]
    again = run("notify", "--digest-now")
    assert "0 digest(s) queued" in again.stdout and len(webhook.requests) == 1
    removed = run("recipients", "remove", "1")
    assert removed.returncode == 0 and "removed" in removed.stdout
    assert run("recipients", "remove", "1").returncode != 0
