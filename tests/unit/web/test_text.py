"""What the review app makes of page text and links before showing them."""

from __future__ import annotations

import pytest

from lootwatch.web.pages import make_templates
from lootwatch.web.text import http_url, neutralise


@pytest.mark.parametrize(
    "url",
    ["https://example.test/lot/1", "http://a.test", "HTTPS://EXAMPLE.TEST/x?y=1#z"],
)
def test_http_links_are_kept(url: str) -> None:
    assert http_url(url) == url


@pytest.mark.parametrize(
    "url",
    [
        "javascript:alert(1)", "JavaScript:alert(1)", " javascript:alert(1)", "data:text/html,<b>x</b>",
        "vbscript:x", "//evil.test/", "/alerts", "http:/no-host", "https://", "https://a.test/\nx",
        "java\x00script:x", "https://a.test/\u202egpj.exe", "", None, 42,
    ],
)  # fmt: skip
def test_anything_else_is_not_a_link(url: object) -> None:
    assert http_url(url) is None


def test_bidi_controls_become_visible_markers() -> None:
    assert neutralise("lot \u202egpj.exe\u202c") == "lot [U+202E]gpj.exe[U+202C]"
    for ch in "\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069":
        assert neutralise(f"a{ch}b") == f"a[U+{ord(ch):04X}]b"
    assert neutralise("plain text, ünïcödé") == "plain text, ünïcödé" and neutralise(3) == 3


def test_every_printed_value_is_neutralised_and_escaped() -> None:
    env = make_templates().env
    html = env.from_string('<p title="{{ t }}">{{ t }}</p>').render(t="<b>\u202eexe</b>")
    assert html == '<p title="&lt;b&gt;[U+202E]exe&lt;/b&gt;">&lt;b&gt;[U+202E]exe&lt;/b&gt;</p>'
