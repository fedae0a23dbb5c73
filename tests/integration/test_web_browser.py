"""The review app in a real Chromium: log in, filter, open, confirm (by keyboard shortcut), see the audit entry."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest
import uvicorn

from lootwatch.core.db import Database
from lootwatch.core.settings import Settings
from lootwatch.web.accounts import add_user
from lootwatch.web.app import create_app
from tests.integration.test_alerts_seed import seed_item

if TYPE_CHECKING:
    from playwright.sync_api import Page

pytestmark = [pytest.mark.postgres, pytest.mark.browser, pytest.mark.slow]
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip
PASSWORD = "correct horse battery"
HOSTILE = '<script>window.pwned = 1</script><img src=x onerror="window.pwned = 2">'


def press_accesskey(page: Page, key: str) -> None:
    """Alt+key as Chromium on Linux receives it from the keyboard: a system key with its char event
    (Playwright's keyboard.press sends no char event for Alt chords, so accesskeys would not fire)."""
    cdp = page.context.new_cdp_session(page)
    base = {"modifiers": 1, "key": key, "code": f"Key{key.upper()}", "windowsVirtualKeyCode": ord(key.upper()),
            "isSystemKey": True}  # fmt: skip
    cdp.send("Input.dispatchKeyEvent", {**base, "type": "rawKeyDown"})
    cdp.send("Input.dispatchKeyEvent", {**base, "type": "char", "text": key, "unmodifiedText": key})
    cdp.send("Input.dispatchKeyEvent", {**base, "type": "keyUp"})
    cdp.detach()


@pytest.fixture
def server(db: Database, settings: Settings) -> Iterator[str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    config = uvicorn.Config(create_app(settings, db, key="browser-test"), host="127.0.0.1", port=port,
                            log_level="warning")  # fmt: skip
    srv = uvicorn.Server(config)
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not srv.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert srv.started, "uvicorn did not start"
    yield f"http://127.0.0.1:{port}"
    srv.should_exit = True
    thread.join(10)


def test_analyst_confirms_an_alert_in_chromium(db: Database, server: str) -> None:
    from playwright.sync_api import Dialog, sync_playwright

    add_user(db, "ana", PASSWORD, "analyst")
    target = seed_item(db, 1, title=HOSTILE, score=0.97, site="alpha")
    seed_item(db, 2, title="Ordinary vase", score=0.81, site="beta")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            dialogs: list[str] = []

            def on_dialog(dialog: Dialog) -> None:
                dialogs.append(dialog.message)
                dialog.dismiss()

            page.on("dialog", on_dialog)
            page.goto(f"{server}/alerts")
            assert "/login" in page.url
            page.fill("input[name=username]", "ana")
            page.fill("input[name=password]", PASSWORD)
            page.click("button[type=submit]")
            page.wait_for_url(f"{server}/alerts")
            assert page.locator("#count").inner_text().startswith("2 item(s)")

            page.select_option("select[name=site]", "alpha")
            page.click("form.filters button[type=submit]")
            page.wait_for_url("**/alerts?*site=alpha*")
            assert page.locator("#count").inner_text().startswith("1 item(s)")
            link = page.locator("#queue a.title")
            assert link.count() == 1 and link.inner_text() == HOSTILE  # shown as text
            assert page.locator("#queue a.open").count() == 1

            press_accesskey(page, "o")  # accesskey: open the first item of the queue
            page.wait_for_url(f"{server}/alerts/{target.item_id}")
            assert page.locator("#listing-title").inner_text() == HOSTILE
            assert page.locator("#state").inner_text() == "new"
            press_accesskey(page, "m")  # accesskey: the comment field, then c confirms
            assert page.evaluate("document.activeElement.name") == "comment"
            page.keyboard.type("same object as theft report TR-1")
            press_accesskey(page, "c")
            page.wait_for_selector(".flash")
            assert page.locator("#state").inner_text() == "confirmed"
            row = page.locator("#audit tbody tr").first.inner_text()
            assert "ana" in row and "new" in row and "confirmed" in row and "same object as theft report TR-1" in row
            assert page.evaluate("window.pwned === undefined") and dialogs == []
        finally:
            browser.close()
    assert db.fetchone("SELECT state FROM review_items WHERE id = %s", (target.item_id,)) == {"state": "confirmed"}
    assert db.fetchone("SELECT actor, comment FROM decisions") == {
        "actor": "ana",
        "comment": "same object as theft report TR-1",
    }


def _no_horizontal_scroll(page: Page) -> bool:
    return bool(page.evaluate("document.scrollingElement.scrollWidth <= window.innerWidth + 1"))


def _broken_images(page: Page) -> list[str]:
    return list(page.evaluate("[...document.images].filter(i => !i.complete || i.naturalWidth === 0).map(i => i.src)"))


@pytest.mark.parametrize("viewport", [(1400, 1000), (390, 844)], ids=["desktop", "phone"])
def test_alert_screens_fit_the_viewport_and_enlarge_without_scripts(
    db: Database, settings: Settings, server: str, viewport: tuple[int, int]
) -> None:
    from playwright.sync_api import sync_playwright

    from lootwatch.core.storage import BlobStore
    from tests.fixtures.photos import jpeg, restage, textured

    add_user(db, "ana", PASSWORD, "analyst")
    target = seed_item(db, 1, title="Long title " * 12 + "\u202egpj.exe", score=0.93)
    seed_item(db, 2, title="Second lot", score=0.81)
    store = BlobStore(settings.store_dir)
    for table, row_id, data in (
        ("listing_photos", target.photo_id, jpeg(restage(textured(3)))),
        ("artefact_photos", target.gallery_photo_id, jpeg(textured(3))),
    ):
        sha, rel = store.put("photos", data, ".jpg")
        db.execute(f"UPDATE {table} SET stored_path = %s, sha256 = %s WHERE id = %s", (rel, sha, row_id))
    db.execute(
        "UPDATE listings SET description = %s WHERE id = %s", ("A very long description. " * 80, target.listing_id)
    )
    width, height = viewport
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": width, "height": height})
            errors: list[str] = []
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            failed: list[str] = []
            page.on("response", lambda r: failed.append(f"{r.status} {r.url}") if r.status >= 400 else None)
            page.goto(f"{server}/login")
            page.fill("input[name=username]", "ana")
            page.fill("input[name=password]", PASSWORD)
            page.click("button[type=submit]")
            page.wait_for_url(f"{server}/alerts")
            page.wait_for_load_state("networkidle")
            assert _no_horizontal_scroll(page)
            thumbs = page.locator(f'img[src="/photos/listing/{target.photo_id}/thumb.jpg"]')
            assert thumbs.count() == 1 and thumbs.evaluate("i => i.naturalWidth") == 160

            page.goto(f"{server}/alerts/{target.item_id}")
            page.wait_for_load_state("networkidle")
            assert _no_horizontal_scroll(page) and _broken_images(page) == []
            # the decision form is on screen at load, before any scrolling
            box = page.locator("#decide textarea").bounding_box()
            assert box is not None and box["y"] + box["height"] <= height
            # the compared photos are large whatever their own size
            shown = page.locator("#compare img").first.bounding_box()
            assert shown is not None and shown["width"] >= min(300, width / 2 - 40)
            assert "\u202e" not in page.locator("#listing-title").inner_text()
            assert not page.locator(".description .text").is_visible()  # long description collapsed
            # enlarge by keyboard: focus the photo link, Enter; the :target overlay covers the page
            zoom = page.locator("#zoom-listing")
            assert not zoom.is_visible()
            page.locator('a[href="#zoom-listing"]').focus()
            page.keyboard.press("Enter")
            page.wait_for_url("**#zoom-listing")
            assert zoom.is_visible()
            big = zoom.locator("img").bounding_box()
            assert big is not None and big["width"] >= min(0.7 * width, 0.7 * height) - 2
            page.locator("#zoom-listing a.close").click()
            assert not zoom.is_visible()
            assert failed == [] and errors == [], (failed, errors)  # nothing missing, nothing refused by the CSP
        finally:
            browser.close()
