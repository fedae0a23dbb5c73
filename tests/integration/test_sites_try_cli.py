"""`lootwatch sites try` on a page fetched from a loopback site and on a saved page, as an analyst runs it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.fixtures.crawlers.site_server import build_site, serve

ROOT = Path(__file__).resolve().parents[2]
CATAWIKI = ROOT / "tests" / "fixtures" / "crawlers" / "pages" / "catawiki"


def _lootwatch(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", "from lootwatch.cli import main; main()", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=120,
        env={"PATH": "/usr/bin:/bin", "COLUMNS": "200", "LOOTWATCH_DATA_DIR": str(cwd / "data")},
    )


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    with serve(build_site(tmp_path_factory.mktemp("site"))) as (base, _requested):
        yield base


def test_search_page_fetched_shows_results_and_an_entry(site: str, tmp_path: Path) -> None:
    done = _lootwatch("sites", "try", f"{site}/catalogue/index.html", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "page:       search (adapter generic)" in out and "results:    1  [JSON-LD ItemList]" in out
    assert "Cylinder seal  USD 300" in out and f"{site}/catalogue/item/A-7.html" in out
    assert "next page:  (none found)" in out
    assert "[sites.127-0-0-1" in out and f'start_urls = ["{site}/catalogue/index.html"]' in out


def test_page_the_rules_cannot_read_asks_for_selectors_and_guesses_them(site: str, tmp_path: Path) -> None:
    # two result links with no thumbnails: not enough for the generic card rule
    done = _lootwatch("sites", "try", f"{site}/plain/index.html", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "page:       unknown (adapter generic)" in out and "NEEDS REVIEW:" in out and "selectors" in out
    assert "result_links = 'a.lot-link::attr(href)'" in out


def test_saved_item_page_shows_fields_rules_and_photo_sizes(tmp_path: Path) -> None:
    page = CATAWIKI / "lot_open.html"
    done = _lootwatch("sites", "try", str(page), "--url", "https://www.catawiki.com/en/l/105781311", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "title:      Omega - Speedmaster - No reserve price - Unisex - 2022  [Catawiki __NEXT_DATA__" in out
    assert "price:      EUR 850 (850.0 EUR)" in out
    assert "photos:     16  [Catawiki __NEXT_DATA__ lotDetailsData; confidence 1.0]" in out
    assert "3e96dd41-b3e3-4a50-b7d1-192c1da84d8c.jpg  (no size in URL (original))" in out
    assert "a search or category page of this site" in out


def test_json_output_carries_rules_and_selectors(tmp_path: Path) -> None:
    import json

    page = CATAWIKI / "search_watches.html"
    done = _lootwatch(
        "sites", "try", str(page), "--url", "https://www.catawiki.com/en/s?q=omega", "--json", cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert data["page_type"] == "search" and len(data["results"]) == 24
    assert data["sources"]["results"] == "Catawiki __NEXT_DATA__ searchLots" and "suggested_selectors" in data


def test_saved_page_without_its_url_is_refused_clearly(tmp_path: Path) -> None:
    done = _lootwatch("sites", "try", str(CATAWIKI / "lot_open.html"), cwd=tmp_path)
    assert done.returncode == 2 and "needs --url" in done.stderr
    missing = _lootwatch("sites", "try", str(tmp_path / "nope.html"), "--url", "https://x.example/", cwd=tmp_path)
    assert missing.returncode == 2 and "neither an http(s) URL nor a saved page" in missing.stderr
