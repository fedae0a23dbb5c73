"""Threshold suggestions from the verdicts stored in PostgreSQL, and ``lootwatch thresholds suggest``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from lootwatch.alerts.review import decide
from lootwatch.alerts.rules import AlertRules
from lootwatch.alerts.thresholds import ALL, suggest

from lootwatch.core.db import Database
from lootwatch.core.settings import Settings
from tests.fixtures.photos import jpeg, textured
from tests.integration.test_rules import World, make_world

pytestmark = pytest.mark.postgres
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def world(db: Database, settings: Settings) -> World:
    return make_world(db, settings)


def _verdicts(world: World) -> None:
    """Museum A: 5 confirmed (0.82..0.97), 3 dismissed (two low, one high); Museum B: 2 confirmed."""
    cases: list[tuple[str, float, str | None]] = [("A", s, "confirm") for s in (0.82, 0.86, 0.9, 0.93, 0.97)]
    cases += [("A", s, "dismiss") for s in (0.80, 0.81, 0.95)]
    cases += [("B", s, "confirm") for s in (0.88, 0.91)]
    cases += [("A", 0.99, None)]  # undecided: not evidence
    for n, (museum, score, action) in enumerate(cases):
        g = world.artefact(f"{museum}{n}", jpeg(textured(n)), collection=f"Museum {museum}")
        _, (p,) = world.listing(f"lot-{n}", [jpeg(textured(100 + n))])
        world.match(p, f"{museum}{n}", score, g)
        (item_id,) = world.decide([p], AlertRules(threshold=0.5))
        if action:
            decide(world.db, item_id, action, "ana", "")


def test_suggestions_per_collection_from_stored_verdicts(world: World) -> None:
    _verdicts(world)
    overall, a, b = suggest(world.db, min_recall=1.0, min_decisions=5)
    assert (overall.collection, a.collection, b.collection) == (ALL, "Museum A", "Museum B")
    assert (overall.confirmed, overall.dismissed, a.confirmed, a.dismissed, b.confirmed) == (7, 3, 5, 3, 2)
    assert a.suggested is not None and a.suggested.threshold == 0.82
    assert (a.suggested.dismissed, a.suggested.recall) == (1, 1.0)
    assert b.suggested is None and "only 2 confirmed" in b.reason
    at_085 = next(p for p in a.points if p.threshold == 0.85)
    assert (at_085.confirmed, at_085.dismissed, at_085.recall) == (4, 1, 0.8)


@pytest.mark.slow
def test_cli_prints_the_table_and_the_settings_snippet(world: World, tmp_path: Path) -> None:
    _verdicts(world)
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "LOOTWATCH_DATABASE_URL": world.db.url,
        "LOOTWATCH_REDIS_URL": "redis://127.0.0.1:1/0",  # named, never contacted
        "LOOTWATCH_DATA_DIR": str(world.settings.data_dir),
        "COLUMNS": "200",
    }
    code = (
        "import lootwatch.cli as c; m = 'lootwatch.cli.thresholds'; "
        "c.COMMAND_MODULES.count(m) or c.COMMAND_MODULES.append(m); c.main()"
    )

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-c", code, "thresholds", "suggest", *args],
            capture_output=True,
            text=True,
            env=env,
            cwd=tmp_path,
            timeout=120,
        )

    text = run("--min-recall", "1.0")
    assert text.returncode == 0, text.stderr
    assert "Museum A: 5 confirmed, 3 dismissed" in text.stdout
    assert "suggested review (queue) threshold 0.8200: precision 0.833, recall 1.000" in text.stdout
    assert "no suggestion: only 2 confirmed item(s)" in text.stdout
    assert '"Museum A" = 0.8200' in text.stdout
    as_json = run("--json", "--min-recall", "1.0")
    reports = json.loads(as_json.stdout)
    assert [r["collection"] for r in reports] == [ALL, "Museum A", "Museum B"]
    assert reports[1]["suggested"]["threshold"] == 0.82
    bad = run("--min-recall", "0")
    assert bad.returncode == 2 and "min_recall" in bad.stderr
