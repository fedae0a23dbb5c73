"""``lootwatch review`` and ``lootwatch notify --once`` as a user runs them (a real process)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from lootwatch.core.db import Database
from tests.integration.test_alerts_seed import seed_item
from tests.integration.test_notify_delivery import Webhook

pytestmark = pytest.mark.postgres
ROOT = Path(__file__).resolve().parents[2]


def lootwatch(db: Database, tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environ = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "LOOTWATCH_DATABASE_URL": db.url,
        "LOOTWATCH_REDIS_URL": "redis://127.0.0.1:1/0",  # named, never contacted by these commands
        "LOOTWATCH_DATA_DIR": str(tmp_path / "data"),
        "COLUMNS": "200",
        **env,
    }
    return subprocess.run(
        [sys.executable, "-c", "from lootwatch.cli import main; main()", *args],
        capture_output=True,
        text=True,
        env=environ,
        cwd=tmp_path,
        timeout=120,
    )


def _accounts(db: Database) -> None:
    from lootwatch.web.accounts import add_user

    add_user(db, "ana", "analyst-password-1", "analyst")
    add_user(db, "ada", "admin-password-12", "admin")


def test_review_list_show_decide(db: Database, tmp_path: Path) -> None:
    _accounts(db)
    s = seed_item(db, title="Vase [bold]markup[/bold] <script>")
    listed = lootwatch(db, tmp_path, "review", "list", "--state", "new")
    assert listed.returncode == 0, listed.stderr
    assert "A0001" in listed.stdout and "1 of 1 item(s)" in listed.stdout
    assert "[bold]markup[/bold]" in listed.stdout  # listing text is shown as text, not rich markup

    decided = lootwatch(
        db, tmp_path, "review", "decide", str(s.item_id), "escalate", "--comment", "check", "--actor", "ana"
    )
    assert decided.returncode == 0, decided.stderr
    assert f"review item {s.item_id}: new -> escalated by ana" in decided.stdout

    shown = lootwatch(db, tmp_path, "review", "show", str(s.item_id))
    assert shown.returncode == 0, shown.stderr
    for text in (
        "https://example.test/lot/1",
        "escalated",
        "confirm, dismiss",
        "ana",
        "check",
        "theft report TR-1",
    ):
        assert text in shown.stdout

    again = lootwatch(db, tmp_path, "review", "decide", str(s.item_id), "escalate", "-m", "x", "--actor", "ada")
    assert again.returncode == 2 and "cannot escalate an item that is escalated" in again.stderr
    missing = lootwatch(db, tmp_path, "review", "show", "999")
    assert missing.returncode == 2 and "review item 999 does not exist" in missing.stderr
    assert db.fetchone("SELECT count(*) AS n FROM decisions") == {"n": 1}


def test_notify_once_delivers_and_prints_counts(db: Database, tmp_path: Path) -> None:
    from lootwatch.alerts.outbox import enqueue_notices

    from lootwatch.core.settings import Settings

    hook = Webhook()
    try:
        s = seed_item(db)
        with db.transaction() as conn:
            enqueue_notices(conn, s.item_id, Settings.model_validate({"slack_webhook_url": hook.url}))
        out = lootwatch(db, tmp_path, "notify", "--once", LOOTWATCH_SLACK_WEBHOOK_URL=hook.url)
        assert out.returncode == 0, out.stderr
        assert "1 claimed: 1 sent, 0 to retry, 0 dead" in out.stdout
        assert len(hook.delivered()) == 1
    finally:
        hook.server.shutdown()
        hook.server.server_close()


def test_users_add_and_list(db: Database, tmp_path: Path) -> None:
    from lootwatch.cli import COMMAND_MODULES

    if "lootwatch.cli.web" not in COMMAND_MODULES:
        pytest.skip("lootwatch.cli.web is not mounted yet")
    added = subprocess_input(db, tmp_path, "correct horse battery\n", "users", "add", "ana", "--role", "admin")
    assert added.returncode == 0, added.stderr
    assert "user ana (admin) added" in added.stdout
    weak = subprocess_input(db, tmp_path, "short\n", "users", "add", "ben")
    assert weak.returncode == 2 and "at least 10 characters" in weak.stderr
    listed = lootwatch(db, tmp_path, "users", "list")
    assert listed.returncode == 0 and "ana" in listed.stdout and "admin" in listed.stdout
    row = db.fetchone("SELECT role, password_hash FROM users WHERE username = 'ana'")
    assert row is not None and row["role"] == "admin" and row["password_hash"].startswith("$argon2id$")


def subprocess_input(db: Database, tmp_path: Path, stdin: str, *args: str) -> subprocess.CompletedProcess[str]:
    environ = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "LOOTWATCH_DATABASE_URL": db.url,
        "LOOTWATCH_REDIS_URL": "redis://127.0.0.1:1/0",
        "LOOTWATCH_DATA_DIR": str(tmp_path / "data"),
    }
    return subprocess.run(
        [sys.executable, "-c", "from lootwatch.cli import main; main()", *args, "--password-stdin"],
        input=stdin,
        capture_output=True,
        text=True,
        env=environ,
        cwd=tmp_path,
        timeout=120,
    )


def test_review_decide_keeps_the_web_apps_rules(db: Database, tmp_path: Path) -> None:
    """The actor is an existing, enabled account; only an admin settles an escalated item."""
    _accounts(db)
    s = seed_item(db, state="escalated")
    db.execute(
        "UPDATE listings SET claimed_canonical_url = 'https://museum.example/lot/9' WHERE id = %s", (s.listing_id,)
    )

    nobody = lootwatch(db, tmp_path, "review", "decide", str(s.item_id), "confirm", "-m", "x", "--actor", "mallory")
    assert nobody.returncode == 2 and "no account 'mallory'" in nobody.stderr and "Traceback" not in nobody.stderr
    os_user = lootwatch(db, tmp_path, "review", "decide", str(s.item_id), "confirm", "-m", "x")  # no such OS account
    assert os_user.returncode == 2 and "no account" in os_user.stderr
    analyst = lootwatch(db, tmp_path, "review", "decide", str(s.item_id), "dismiss", "-m", "x", "--actor", "ana")
    assert (
        analyst.returncode == 2
        and "only an admin settles it" in analyst.stderr
        and "'ana' is an analyst" in analyst.stderr
    )
    db.execute("UPDATE users SET disabled_at = now() WHERE username = 'ada'")
    disabled = lootwatch(db, tmp_path, "review", "decide", str(s.item_id), "confirm", "-m", "x", "--actor", "ada")
    assert disabled.returncode == 2 and "account 'ada' is disabled" in disabled.stderr
    assert db.fetchone("SELECT count(*) AS n FROM decisions") == {"n": 0}  # none of them decided anything

    db.execute("UPDATE users SET disabled_at = NULL WHERE username = 'ada'")
    admin = lootwatch(db, tmp_path, "review", "decide", str(s.item_id), "confirm", "-m", "seen", "--actor", "ada")
    assert admin.returncode == 0, admin.stderr
    assert f"review item {s.item_id}: escalated -> confirmed by ada" in admin.stdout
    shown = lootwatch(db, tmp_path, "review", "show", str(s.item_id))
    assert "canonical (seller's claim)" in shown.stdout and "https://museum.example/lot/9" in shown.stdout


def test_every_command_says_which_database_and_redis_it_uses(db: Database, tmp_path: Path) -> None:
    url = db.url if "://" in db.url else f"{db.url} password=not-shown"
    listed = lootwatch(db, tmp_path, "review", "list", LOOTWATCH_DATABASE_URL=url)
    assert listed.returncode == 0, listed.stderr
    lines = [line for line in listed.stderr.splitlines() if line.startswith("lootwatch: database:")]
    assert len(lines) == 1, listed.stderr  # once
    assert "(LOOTWATCH_DATABASE_URL)" in lines[0] and "redis://127.0.0.1:1/0 (LOOTWATCH_REDIS_URL)" in lines[0]
    assert "not-shown" not in listed.stderr and "password=***" in lines[0]
    assert "lootwatch: database" not in listed.stdout  # stdout stays the command's own output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["review", "decide", "abc", "confirm", "-m", "x"], "Invalid value for 'item_id'"),
        (["review", "decide", "1", "approve", "-m", "x"], "'approve' is not one of 'confirm', 'dismiss', 'escalate'"),
        (["review", "decide", "1", "confirm"], "Missing option '--comment'"),
        (["review", "decide", "1", "confirm", "-m", "  "], "a decision needs a comment for the audit log"),
        (["review", "show", "99999999999999999999"], "review item 99999999999999999999 does not exist"),
        (["review", "list", "--limit", "0"], "Invalid value for '--limit'"),
        (["review", "list", "--state", "bogus"], "unknown state 'bogus'"),
        (["worker", "--queue", "gpu"], "Invalid value for '--queue'"),
        (["no-such-command"], "No such command 'no-such-command'"),
        (["gallery", "import", "/no/such/folder"], "/no/such/folder"),
    ],
)
def test_cli_misuse_is_a_usage_error_not_a_traceback(
    db: Database, tmp_path: Path, args: list[str], message: str
) -> None:
    out = lootwatch(db, tmp_path, *args)
    assert out.returncode == 2, (out.returncode, out.stdout, out.stderr)
    assert "Traceback" not in out.stderr and message in out.stderr, out.stderr


def test_bad_settings_are_a_clear_error_not_a_traceback(db: Database, tmp_path: Path) -> None:
    out = lootwatch(db, tmp_path, "review", "list", LOOTWATCH_TOP_K="many")
    assert out.returncode == 2 and "Traceback" not in out.stderr, out.stderr
    assert "error: invalid settings" in out.stderr and "top_k" in out.stderr
