"""The text of a notice: subject, plain text, HTML and Slack blocks for one review item.

Listing fields come from arbitrary auction pages, so every one is escaped for the medium it goes
into (HTML entities for email, Slack's ``&<>`` escaping for mrkdwn) and stripped of line breaks
where a line break could forge structure (the email subject).
"""

from __future__ import annotations

import html
from typing import Any

_MAX_TITLE = 200


def item_link(base_url: str, item_id: int) -> str:
    return f"{base_url.rstrip('/')}/alerts/{item_id}"


def one_line(text: str, limit: int = _MAX_TITLE) -> str:
    """Collapse whitespace (CR/LF included) and cut to ``limit`` characters."""
    flat = " ".join(str(text).split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def slack_escape(text: str) -> str:
    # Slack's documented escaping: only these three characters are control characters in mrkdwn
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _safe_url(url: str) -> str:
    # a listing URL goes into links; anything but http(s) is shown as text only
    return url if url.lower().startswith(("http://", "https://")) else ""


def render(fields: dict[str, Any], link: str, key: str) -> dict[str, Any]:
    """Subject, text, html and slack payload for a review item.

    ``fields``: review_item_id, score, artefact_id, artefact_title, collection, title, url,
    price_text, seller, site. ``key`` is the notice's idempotency key, carried in every form so a
    re-sent notice is recognisably the same one.
    """
    title = one_line(fields.get("title") or "(untitled listing)")
    artefact = str(fields["artefact_id"])
    if fields.get("artefact_title"):
        artefact += f" {one_line(fields['artefact_title'])}"
    score = float(fields["score"])
    url = _safe_url(str(fields.get("url") or ""))
    site = one_line(fields.get("site") or "")
    price = one_line(fields.get("price_text") or "")
    seller = one_line(fields.get("seller") or "")
    item_id = fields["review_item_id"]

    subject = one_line(f"[lootwatch] possible match {artefact} (score {score:.2f}): {title}", 250)
    rows = [
        ("Listing", title),
        ("Site", site),
        ("Price", price),
        ("Seller", seller),
        ("Listing URL", str(fields.get("url") or "")),
        ("Artefact", artefact),
        ("Collection", one_line(fields.get("collection") or "")),
        ("Score", f"{score:.3f}"),
    ]
    text = (
        f"lootwatch found a listing that may show a protected artefact (review item {item_id}).\n\n"
        + "\n".join(f"{k}: {v}" for k, v in rows if v)
        + f"\n\nReview it: {link}\n\nref: {key}\n"
    )
    e = html.escape
    table = "".join(
        f"<tr><th align='left'>{e(k)}</th><td>{e(v)}</td></tr>" for k, v in rows if v and k != "Listing URL"
    )
    listing_link = f'<p><a href="{e(url)}">Open the listing</a></p>' if url else ""
    html_body = (
        "<html><body>"
        f"<p>lootwatch found a listing that may show a protected artefact (review item {int(item_id)}).</p>"
        f"<table>{table}</table>{listing_link}"
        f'<p><a href="{e(link)}">Review it in lootwatch</a></p>'
        f"<p style='color:#888'>ref: {e(key)}</p>"
        "</body></html>"
    )
    s = slack_escape
    listing_md = f"<{s(url)}|{s(title)}>" if url else s(title)
    details = [f"*Artefact:* {s(artefact)}", f"*Score:* {score:.3f}"]
    details += [f"*{k}:* {s(v)}" for k, v in (("Site", site), ("Price", price), ("Seller", seller)) if v]
    slack = {
        "text": s(f"Possible match {artefact} (score {score:.2f}): {title}"),
        "blocks": [
            {"type": "section", "text": {"type": "mrkdwn", "text": f"*Possible match* {listing_md}"}},
            {"type": "section", "fields": [{"type": "mrkdwn", "text": d} for d in details]},
            {
                "type": "actions",
                "elements": [{"type": "button", "text": {"type": "plain_text", "text": "Review"}, "url": link}],
            },
            {"type": "context", "elements": [{"type": "mrkdwn", "text": f"ref: {s(key)}"}]},
        ],
    }
    return {"subject": subject, "text": text, "html": html_body, "slack": slack}
