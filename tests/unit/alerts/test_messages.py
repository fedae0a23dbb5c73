"""Notice text: hostile listing fields are escaped for every medium."""

from __future__ import annotations

from email import message_from_bytes, policy

from lootwatch.alerts.messages import SLACK_BAR, item_link, one_line, render, render_digest, slack_escape, slack_url
from lootwatch.alerts.senders import build_email, message_id

from lootwatch.core.settings import Settings

HOSTILE = {
    "review_item_id": 7,
    "score": 0.912345,
    "artefact_id": "A0021",
    "artefact_title": "Bronze <b>head</b>",
    "collection": "Museum & Co",
    "title": "Nice vase <script>alert(1)</script>\r\nBcc: victim@example.org",
    "url": "https://auction.example/lot/7?a=1&b=2",
    "price_text": "€ 1.200",
    "seller": "<@U123> dealer",
    "site": "example",
}


def _render() -> dict:
    return render(HOSTILE, item_link("http://review.local/", 7), "review:7:email")


def test_subject_is_one_line_and_keeps_the_title() -> None:
    subject = _render()["subject"]
    assert "\n" not in subject and "\r" not in subject
    assert subject.startswith("[lootwatch] possible match A0021 Bronze <b>head</b> (score 0.91)")
    assert "Bcc: victim@example.org" in subject  # harmless as text inside the subject


def test_html_escapes_every_listing_field() -> None:
    body = _render()["html"]
    assert "<script>" not in body and "&lt;script&gt;alert(1)&lt;/script&gt;" in body
    assert "<b>head</b>" not in body and "&lt;@U123&gt;" in body
    assert 'href="https://auction.example/lot/7?a=1&amp;b=2"' in body
    assert 'href="http://review.local/alerts/7"' in body
    assert "review:7:email" in body


def test_slack_blocks_escape_and_carry_the_ref() -> None:
    slack = _render()["slack"]
    flat = repr(slack)
    assert "<script>" not in flat and "<@U123>" not in flat  # no mention or markup injection
    assert "&lt;script&gt;" in slack["blocks"][0]["text"]["text"]
    assert slack["blocks"][0]["text"]["text"].startswith("*Possible match* <https://auction.example/lot/7?a=1&amp;b=2|")
    assert slack["blocks"][2]["elements"][0]["url"] == "http://review.local/alerts/7"
    assert slack["blocks"][-1]["elements"][0]["text"] == "ref: review:7:email"


def test_non_http_listing_url_is_never_a_link() -> None:
    out = render({**HOSTILE, "url": "javascript:alert(1)"}, "http://r/alerts/7", "k")
    assert "javascript:" not in out["html"].split("<table>")[1].split("</table>")[1]
    assert "javascript:" not in out["slack"]["blocks"][0]["text"]["text"]


def test_helpers() -> None:
    assert one_line("a\n b\tc", 10) == "a b c"
    assert one_line("x" * 20, 5) == "xxxx…"
    assert slack_escape("a & <b>") == "a &amp; &lt;b&gt;"


def test_email_is_multipart_with_a_stable_message_id() -> None:
    payload = {**_render(), "idempotency_key": "review:7:email", "to": ["a@example.org", "b@example.org"]}
    settings = Settings.model_validate({"email_from": "Lootwatch <alerts@heritage.example>"})
    first = build_email(payload, settings.notices)
    again = build_email(payload, settings.notices)
    assert first["Message-ID"] == again["Message-ID"] == "<review.7.email.lootwatch@heritage.example>"
    assert message_id("review:7:email", "x@y.z") == "<review.7.email.lootwatch@y.z>"
    parsed = message_from_bytes(first.as_bytes(), policy=policy.default)
    assert parsed.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in parsed.iter_parts()] == ["text/plain", "text/html"]
    assert parsed["To"] == "a@example.org, b@example.org"
    assert "\n" not in str(parsed["Subject"])
    assert parsed.get("Bcc") is None


def test_slack_link_text_cannot_be_spoofed_with_a_bar() -> None:
    """A title or URL with "|" could otherwise end the link's URL early and show the seller's own text."""
    spoof = {
        **HOSTILE,
        "title": "Trusted museum | <https://evil.example|Interpol notice> & co",
        "url": "https://evil.example/x|Official police record",
    }
    block = render(spoof, "http://review.local/alerts/7", "k")["slack"]["blocks"][0]["text"]["text"]
    link = block.removeprefix("*Possible match* ")
    assert link.startswith("<https://evil.example/x%7COfficial%20police%20record|")
    assert link.count("|") == 1 and link.count("<") == 1 and link.endswith(">")  # one link, one separator
    assert f"Trusted museum {SLACK_BAR} &lt;https://evil.example{SLACK_BAR}Interpol notice&gt; &amp; co" in link
    digest = render_digest("2026-12-07", [{**spoof, "review_item_id": 7}], "http://review.local", "d")
    line = digest["slack"]["blocks"][1]["text"]["text"]
    assert line.count("|") == 1 and "&lt;https://evil.example" in line
    assert "|" not in digest["slack"]["text"]


def test_slack_helpers() -> None:
    assert slack_escape("a | b & <c>") == f"a {SLACK_BAR} b &amp; &lt;c&gt;"
    assert slack_url("https://x.example/?a=1&b=<2>|3 4") == "https://x.example/?a=1&amp;b=%3C2%3E%7C3%204"
