"""The review queue on a real PostgreSQL: decisions, audit trail, concurrency, listing."""

from __future__ import annotations

import threading
import time

import psycopg
import pytest
from lootwatch.alerts.review import count_items, decide, list_items, show_item

from lootwatch.core.db import Database
from lootwatch.core.errors import BadInputError, NotFoundError, StateError
from tests.integration.test_alerts_seed import seed_item

pytestmark = pytest.mark.postgres


def _decisions(db: Database, item_id: int) -> list[dict]:
    return db.fetchall("SELECT * FROM decisions WHERE review_item_id = %s ORDER BY id", (item_id,))


def test_escalate_then_confirm_updates_item_and_appends_audit(db: Database) -> None:
    s = seed_item(db)
    first = decide(db, s.item_id, "escalate", "ana", "looks like the Kabul bronze")
    second = decide(db, s.item_id, "confirm", "ben", "matches the theft report")
    assert (first.from_state, first.to_state) == ("new", "escalated")
    assert (second.from_state, second.to_state) == ("escalated", "confirmed")
    item = db.fetchone(
        "SELECT state, assignee, updated_at > created_at AS touched FROM review_items WHERE id = %s",
        (s.item_id,),
    )
    assert item == {"state": "confirmed", "assignee": "ana", "touched": True}
    rows = _decisions(db, s.item_id)
    assert [(r["actor"], r["from_state"], r["to_state"], r["comment"]) for r in rows] == [
        ("ana", "new", "escalated", "looks like the Kabul bronze"),
        ("ben", "escalated", "confirmed", "matches the theft report"),
    ]
    assert [d["id"] for d in show_item(db, s.item_id)["decisions"]] == [first.id, second.id]


def test_illegal_transition_changes_nothing(db: Database) -> None:
    s = seed_item(db)
    decide(db, s.item_id, "dismiss", "ana", "different object")
    with pytest.raises(StateError, match=r"already dismissed \(a final state\).*decided by ana"):
        decide(db, s.item_id, "confirm", "ben", "")
    assert db.fetchone("SELECT state FROM review_items WHERE id = %s", (s.item_id,)) == {"state": "dismissed"}
    assert len(_decisions(db, s.item_id)) == 1


def test_unknown_item_bad_action_and_missing_actor(db: Database) -> None:
    s = seed_item(db)
    with pytest.raises(NotFoundError, match="review item 999 does not exist"):
        decide(db, 999, "confirm", "ana", "")
    with pytest.raises(NotFoundError):
        show_item(db, 999)
    with pytest.raises(StateError, match="unknown action 'approve'"):
        decide(db, s.item_id, "approve", "ana", "")
    with pytest.raises(BadInputError, match="actor"):
        decide(db, s.item_id, "confirm", "  ", "")
    assert _decisions(db, s.item_id) == []


def test_expect_state_refuses_a_stale_view(db: Database) -> None:
    s = seed_item(db)
    decide(db, s.item_id, "escalate", "ana", "")
    with pytest.raises(StateError, match="changed meanwhile: it is now escalated by ana, not new"):
        decide(db, s.item_id, "confirm", "ben", "", expect_state="new")
    assert decide(db, s.item_id, "confirm", "ben", "", expect_state="escalated").to_state == "confirmed"


def test_two_analysts_at_once_one_wins(db: Database) -> None:
    s = seed_item(db)
    results: dict[str, object] = {}

    def analyst(name: str, action: str) -> None:
        try:
            results[name] = decide(db, s.item_id, action, name, f"{name} says {action}")
        except StateError as exc:
            results[name] = exc

    # hold the row lock so both analysts are certainly inside decide() together, then let go
    # (the watcher is autocommit: inside one transaction pg_stat_activity is a frozen snapshot)
    with psycopg.connect(db.url) as blocker, psycopg.connect(db.url, autocommit=True) as watcher:
        blocker.execute("SELECT 1 FROM review_items WHERE id = %s FOR UPDATE", (s.item_id,))
        threads = [
            threading.Thread(target=analyst, args=("ana", "confirm")),
            threading.Thread(target=analyst, args=("ben", "dismiss")),
        ]
        for t in threads:
            t.start()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:  # wait until both are blocked on the lock
            waiting = watcher.execute(
                """SELECT count(*) FROM pg_stat_activity
                   WHERE datname = current_database() AND wait_event_type = 'Lock'"""
            ).fetchone()
            if waiting and waiting[0] >= 2:
                break
            time.sleep(0.05)
        else:
            pytest.fail("the two analysts never both waited on the row lock")
        blocker.rollback()
    for t in threads:
        t.join(10)
    errors = [r for r in results.values() if isinstance(r, StateError)]
    wins = [r for r in results.values() if not isinstance(r, StateError)]
    assert len(wins) == 1 and len(errors) == 1
    assert "already" in str(errors[0])
    rows = _decisions(db, s.item_id)
    assert len(rows) == 1
    final = db.fetchone("SELECT state FROM review_items WHERE id = %s", (s.item_id,))
    assert final == {"state": rows[0]["to_state"]}


def test_decisions_are_append_only(db: Database) -> None:
    s = seed_item(db)
    d = decide(db, s.item_id, "confirm", "ana", "original comment")
    with pytest.raises(psycopg.errors.RaiseException, match="append-only"):
        db.execute("UPDATE decisions SET comment = 'rewritten' WHERE id = %s", (d.id,))
    with pytest.raises(psycopg.errors.RaiseException, match="append-only"):
        db.execute("DELETE FROM decisions WHERE id = %s", (d.id,))
    assert _decisions(db, s.item_id)[0]["comment"] == "original comment"


def test_list_filters_and_pages(db: Database) -> None:
    items = [seed_item(db, n, score=0.5 + n / 10, site="alpha" if n % 2 else "beta") for n in range(1, 5)]
    decide(db, items[0].item_id, "dismiss", "ana", "")
    newest_first = [r["id"] for r in list_items(db)]
    assert newest_first == [i.item_id for i in reversed(items)]
    assert [r["id"] for r in list_items(db, state="new")] == [
        items[3].item_id,
        items[2].item_id,
        items[1].item_id,
    ]
    assert {r["site"] for r in list_items(db, site="alpha")} == {"alpha"}
    assert [r["id"] for r in list_items(db, min_score=0.75)] == [items[3].item_id, items[2].item_id]
    assert count_items(db, state="new") == 3 and count_items(db, site="beta") == 2
    page1 = list_items(db, limit=3)
    page2 = list_items(db, limit=3, offset=3)
    assert [r["id"] for r in page1 + page2] == newest_first and len(page2) == 1
    row = page2[0]
    assert row["title"] == "Bronze figure of a deity" and row["artefact_id"] == "A0001" and row["state"] == "dismissed"
    with pytest.raises(BadInputError, match="unknown state"):
        list_items(db, state="open")
