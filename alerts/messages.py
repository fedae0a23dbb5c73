"""The text of a notice: subject, plain text, HTML and Slack blocks for one review item.

Listing fields come from arbitrary auction pages, so every one is escaped for the medium it goes
into (HTML entities for email, Slack's ``&<>`` escaping for mrkdwn) and stripped of line breaks
where a line break could forge structure (the email subject).
"""

from __future__ import annotations

import html
from typing import Any

_MAX_TITLE = 200
SLACK_DIGEST_LINES = 15  # a Slack section holds 3000 characters


def item_link(base_url: str, item_id: int) -> str:
    return f"{base_url.rstrip('/')}/alerts/{item_id}"


def one_line(text: str, limit: int = _MAX_TITLE) -> str:
    """Collapse whitespace (CR/LF included) and cut to ``limit`` characters."""
    flat = " ".join(str(text).split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


# "|" ends a link's URL and starts its text in Slack's <url|text>: a listing title or URL holding one could
# show text of the seller's choosing over a link of the seller's choosing. Slack has no escape for it,
# so text shows a broken bar instead, and a URL its percent-encoding (the same URL).
SLACK_BAR = "\u00a6"


def slack_escape(text: str) -> str:
    """Text for Slack mrkdwn: Slack's documented escaping of ``& < >``, and ``|`` shown as a broken bar."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("|", SLACK_BAR)


def slack_url(url: str) -> str:
    """A URL for Slack's ``<url|text>``: the characters that end or split the link percent-encoded, ``&``
    escaped as Slack asks."""
    encoded = "".join(f"%{ord(c):02X}" if c in '|<> "' or ord(c) < 0x20 or ord(c) == 0x7F else c for c in url)
    return encoded.replace("&", "&amp;")


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
    listing_md = f"<{slack_url(url)}|{s(title)}>" if url else s(title)
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


def photos_html(inline: list[tuple[str, str]], missing: list[str]) -> str:
    """The photo section of an alert email: ``inline`` (Content-ID, caption) images, then a note
    naming each photo that could not be attached."""
    e = html.escape
    figures = "".join(
        f'<td valign="top"><img src="cid:{e(cid)}" alt="{e(caption)}" style="max-width:360px"><br>'
        f"<small>{e(caption)}</small></td>"
        for cid, caption in inline
    )
    out = f"<table><tr>{figures}</tr></table>" if figures else ""
    if missing:
        out += "<p style='color:#a00'>Not attached: " + e("; ".join(missing)) + "</p>"
    return out


def photos_text(inline: list[tuple[str, str]], missing: list[str]) -> str:
    lines = [f"Photos attached inline: {', '.join(c for _cid, c in inline)}."] if inline else []
    lines += [f"Not attached: {m}." for m in missing]
    return "\n".join(lines)


def render_digest(day: str, items: list[dict[str, Any]], base_url: str, key: str, more: int = 0) -> dict[str, Any]:
    """Subject, text, html and slack payload of one recipient's daily digest.

    ``items``: the fields :func:`render` takes, one dict per new review item; ``more`` counts the
    items left out of a long digest (the review app lists them all).
    """
    count = len(items) + more
    subject = f"[lootwatch] daily digest {day}: {count} new alert{'s' if count != 1 else ''}"
    queue = f"{base_url.rstrip('/')}/alerts?state=new"
    rows: list[dict[str, Any]] = []
    for f in items:
        title = one_line(f.get("title") or "(untitled listing)", 120)
        artefact = str(f["artefact_id"]) + (f" {one_line(f['artefact_title'], 80)}" if f.get("artefact_title") else "")
        rows.append(
            {
                "title": title,
                "artefact": artefact,
                "score": float(f["score"]),
                "site": one_line(f.get("site") or ""),
                "link": item_link(base_url, int(f["review_item_id"])),
            }
        )
    tail = f"... and {more} more in the review queue" if more else ""
    text = (
        f"lootwatch daily digest for {day}: {count} new possible match(es).\n\n"
        + "".join(
            f"- {r['artefact']} (score {r['score']:.2f}) {r['site']}: {r['title']}\n  {r['link']}\n" for r in rows
        )
        + (f"{tail}\n" if tail else "")
        + f"\nReview queue: {queue}\n\nref: {key}\n"
    )
    e = html.escape
    table = "".join(
        f'<tr><td><a href="{e(r["link"])}">{e(r["title"])}</a></td><td>{e(r["artefact"])}</td>'
        f"<td>{r['score']:.3f}</td><td>{e(r['site'])}</td></tr>"
        for r in rows
    )
    html_body = (
        "<html><body>"
        f"<p>lootwatch daily digest for {e(day)}: {count} new possible match(es).</p>"
        "<table><tr><th align='left'>Listing</th><th align='left'>Artefact</th><th align='left'>Score</th>"
        f"<th align='left'>Site</th></tr>{table}</table>"
        + (f"<p>{e(tail)}</p>" if tail else "")
        + f'<p><a href="{e(queue)}">Open the review queue</a></p>'
        f"<p style='color:#888'>ref: {e(key)}</p>"
        "</body></html>"
    )
    s = slack_escape
    lines = [
        f"• <{slack_url(r['link'])}|{s(r['title'])}> {s(r['artefact'])} ({r['score']:.2f}, {s(r['site'])})"
        for r in rows
    ]
    body_md = "\n".join(lines[:SLACK_DIGEST_LINES]) + (
        f"\n… and {count - min(len(lines), SLACK_DIGEST_LINES)} more"
        if count > min(len(lines), SLACK_DIGEST_LINES)
        else ""
    )
    slack = {
        "text": s(subject),
        "blocks": [
            {"type": "section", "text": {"type": "mrkdwn", "text": f"*lootwatch daily digest {s(day)}*: {count} new"}},
            {"type": "section", "text": {"type": "mrkdwn", "text": body_md or "(none)"}},
            {
                "type": "actions",
                "elements": [{"type": "button", "text": {"type": "plain_text", "text": "Review queue"}, "url": queue}],
            },
            {"type": "context", "elements": [{"type": "mrkdwn", "text": f"ref: {s(key)}"}]},
        ],
    }
    return {"subject": one_line(subject, 250), "text": text, "html": html_body, "slack": slack}
