"""Pages that carry no listing: bot challenges, not-found pages, JavaScript-only shells.

A challenge page must be retried later (and the site backed off), never read as an empty
result; a JS shell is fetched again through a browser.
"""

from __future__ import annotations

import re

from lootwatch.crawlers.extract import xpath
from lootwatch.crawlers.extract.text import clean, visible_text
from parsel import Selector

# Markers of interstitials from common bot-protection vendors; the page itself names them.
_CHALLENGE_TITLE = re.compile(
    r"pardon our interruption|just a moment\.\.\.|attention required|access denied|robot check|"
    r"are you a (human|robot)|verify you are (a )?human|security check|checking your browser|"
    r"please verify|captcha|request unsuccessful|ddos protection|bot verification",
    re.I,
)
# lower-case literals searched in the lower-cased page: a re.I alternation over a whole page cost
# more than the rest of the extraction
_CHALLENGE_MARKUP = re.compile(
    r"challenge-platform|cf-chl-|cf_chl_opt|_incapsula_resource|px-captcha|captcha-delivery\.com|"
    r"geo\.captcha-delivery|perimeterx|distil_r_captcha|/_sec/cp_challenge|sec-if-cpt-container|"
    r"checking your browser before you access|awswaf|g-recaptcha|h-captcha|hcaptcha\.com"
)
# every marker above holds one of these; a page with none (nearly all) skips the alternation, which Python's
# re tries at every character (90 us on a 2.5 KB page, a fifth of its extraction)
MARKUP_HINTS = ("challenge", "chl", "incapsula", "captcha", "perimeterx", "cpt", "checking your browser", "awswaf")
_NOT_FOUND = re.compile(
    r"page not found|item not found|listing not found|lot not found|not be found|"
    r"no longer (available|exists)|"
    r"has been (removed|deleted)|does not exist|doesn't exist|couldn't find|could not find|\b404\b|"
    r"存在しません|見つかりません|削除されました|公開停止|"
    r"seite nicht gefunden|page introuvable|pagina non trovata|"
    r"página no encontrada|niet gevonden",
    re.I,
)
_ENABLE_JS = re.compile(
    r"enable javascript|javascript (is )?(required|disabled)|turn on javascript|javascriptを有効", re.I
)
_APP_ROOTS = ("app", "root", "__next", "__nuxt", "main-app", "application")


def challenge_reason(sel: Selector, html: str) -> str:
    """Why the page is a bot challenge, or ''."""
    title = clean(xpath.first(sel.root, "title::text", css=True))
    headings = " ".join(clean(t) for t in xpath.strings(sel.root, "h1 ::text, h2 ::text", css=True)[:6])
    m = _CHALLENGE_TITLE.search(title) or _CHALLENGE_TITLE.search(headings)
    if m:
        return f"bot challenge: {m.group(0)!r} in title/heading"
    # markup markers alone also appear on ordinary pages (login captchas): require a small page
    head = html[:200_000].lower()
    m2 = _CHALLENGE_MARKUP.search(head) if any(hint in head for hint in MARKUP_HINTS) else None
    if m2 and len(visible_text(sel.css("body") or sel)) < 600:
        return f"bot challenge: {m2.group(0)!r} on a near-empty page"
    return ""


def not_found_reason(sel: Selector) -> str:
    """Why the page says the listing does not exist, or ''. Call only when no listing data was found."""
    title = clean(sel.css("title::text").get())
    for text in [title, *(clean(t) for t in sel.css("h1 ::text, h2 ::text, h3 ::text").getall()[:10])]:
        m = _NOT_FOUND.search(text)
        if m:
            return f"not found: {m.group(0)!r}"
    body = visible_text(sel.css("main") or sel.css("body") or sel)
    m = _NOT_FOUND.search(body[:3000])
    return f"not found: {m.group(0)!r} in page text" if m else ""


def js_shell_reason(sel: Selector) -> str:
    """Why the page looks like a JavaScript-only shell, or ''. Call only when no listing data was found."""
    for root_id in _APP_ROOTS:
        node = sel.css(f"#{root_id}")
        if node and not clean(visible_text(node[0])) and not node[0].css("img"):
            return f"empty application root #{root_id} (content rendered by JavaScript)"
    noscript = " ".join(sel.css("noscript ::text").getall())
    if _ENABLE_JS.search(noscript) or _ENABLE_JS.search(" ".join(sel.css("body ::text").getall()[:50])):
        body = visible_text(sel.css("body") or sel)
        if len(body) < 1500:
            return "page asks for JavaScript and has little text"
    body_node = sel.css("body")
    if body_node and len(visible_text(body_node[0])) < 100 and len(sel.css("script")) >= 1:
        return "near-empty body with scripts"
    return ""
