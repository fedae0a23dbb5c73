"""The review app links the listing to the URL fetched; a page's rel=canonical shows as the seller's claim only."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from lootwatch.core.db import Database
from tests.integration.test_alerts_seed import seed_item
from tests.integration.test_web_app import _login, client  # noqa: F401 - the review app fixture

pytestmark = pytest.mark.postgres
CLAIM = "https://trusted-museum.example/collection/9"


def test_claimed_canonical_is_shown_as_text_labelled_never_as_the_link(
    client: TestClient,  # noqa: F811
    db: Database,
) -> None:
    s = seed_item(db)
    db.execute("UPDATE listings SET claimed_canonical_url = %s WHERE id = %s", (CLAIM, s.listing_id))
    _login(client, "ana")
    page = client.get(f"/alerts/{s.item_id}").text
    assert 'href="https://example.test/lot/1"' in page  # the URL the crawler fetched
    assert f'<td id="claimed-canonical">{CLAIM} <small>' in page and "Canonical (seller's claim)" in page
    assert f'href="{CLAIM}"' not in page
