"""Deliver one notice payload by email (smtplib) or to a Slack incoming webhook (httpx).

Both raise :class:`DeliveryError` on any failure; the dispatcher records it and retries later.
An alert email carries its photos inline (multipart/related, referenced by Content-ID from the
HTML), read from the store and shrunk at send time; a photo that cannot be read is left out and
the email says so, it never holds the notice back.
"""

from __future__ import annotations

import io
import logging
import smtplib
from email.message import EmailMessage
from email.utils import formatdate
from pathlib import Path

import httpx
from lootwatch.alerts.messages import photos_html, photos_text

from lootwatch.core.errors import ConfigError, LootwatchError
from lootwatch.core.images import vet_image
from lootwatch.core.settings_parts import NoticeSettings
from lootwatch.core.storage import BlobStore

log = logging.getLogger(__name__)

SMTP_TIMEOUT_S = 30.0
SLACK_TIMEOUT_S = 15.0
PHOTO_MAX_PX = 360  # longest side of an inline photo: a few tens of KB each as JPEG
PHOTO_QUALITY = 80


class DeliveryError(LootwatchError):
    """A notice could not be delivered this time."""


def message_id(key: str, sender: str) -> str:
    """A Message-ID fixed by the idempotency key: a re-send after a crash carries the same one,
    so mail clients and archives treat the two copies as one message."""
    domain = sender.rsplit("@", 1)[-1].strip("<> ") or "lootwatch.invalid"
    local = "".join(c if c.isalnum() or c in "-." else "." for c in key)
    return f"<{local}.lootwatch@{domain}>"


def inline_photo(store: BlobStore, stored_path: str) -> bytes:
    """The stored photo as a small JPEG; raises OSError / LootwatchError when it cannot be read."""
    image = vet_image(store.read(stored_path), with_phash=False).image
    image.thumbnail((PHOTO_MAX_PX, PHOTO_MAX_PX))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=PHOTO_QUALITY, optimize=True)
    return out.getvalue()


def photo_cid(ref: dict) -> str:
    # fixed by the photo: a re-sent email is byte-for-byte the same message
    return f"{ref['role']}-{str(ref['sha256'])[:16]}@lootwatch"


def _photo_caption(ref: dict) -> str:
    return f"{'listing' if ref['role'] == 'listing' else 'gallery'} photo #{ref['id']}"


def load_photos(payload: dict, store_dir: Path) -> tuple[list[tuple[str, str, bytes]], list[str]]:
    """(Content-ID, caption, JPEG) of each readable photo of the payload, and why the others are not."""
    store = BlobStore(store_dir)
    inline: list[tuple[str, str, bytes]] = []
    missing: list[str] = []
    for ref in payload.get("photos") or []:
        caption = _photo_caption(ref)
        try:
            inline.append((photo_cid(ref), caption, inline_photo(store, ref["stored_path"])))
        except FileNotFoundError:
            missing.append(f"{caption} (file missing from the store)")
        except (OSError, LootwatchError) as exc:
            missing.append(f"{caption} ({exc})")
    if missing:
        log.warning("notice %s goes without %s", payload["idempotency_key"], "; ".join(missing))
    return inline, missing


def build_email(payload: dict, notices: NoticeSettings) -> EmailMessage:
    recipients = payload.get("to") or notices.email_to
    if not recipients:
        raise ConfigError("no email recipients: set email_to")
    msg = EmailMessage()
    msg["From"] = notices.email_from
    msg["To"] = ", ".join(recipients)
    msg["Subject"] = payload["subject"]
    msg["Date"] = formatdate(localtime=False, usegmt=True)
    msg["Message-ID"] = message_id(payload["idempotency_key"], notices.email_from)
    msg["X-Lootwatch-Ref"] = payload["idempotency_key"]
    inline, missing = load_photos(payload, notices.store_dir)
    captions = [(cid, caption) for cid, caption, _data in inline]
    text, html_body = payload["text"], payload["html"]
    if inline or missing:
        text = f"{text.rstrip()}\n\n{photos_text(captions, missing)}\n"
        head, body_end, tail = html_body.rpartition("</body>")
        section = photos_html(captions, missing)
        html_body = f"{head}{section}{body_end}{tail}" if body_end else html_body + section
    msg.set_content(text)
    msg.add_alternative(html_body, subtype="html")
    if inline:
        html_part = msg.get_body(("html",))
        assert html_part is not None  # added just above
        for cid, _caption, data in inline:
            html_part.add_related(
                data, maintype="image", subtype="jpeg", cid=f"<{cid}>", filename=cid.split("@")[0] + ".jpg"
            )
    return msg


def send_email(payload: dict, notices: NoticeSettings) -> None:
    if not notices.smtp_host:
        raise ConfigError("email notice pending but smtp_host is not set")
    msg = build_email(payload, notices)
    try:
        with smtplib.SMTP(notices.smtp_host, notices.smtp_port, timeout=SMTP_TIMEOUT_S) as smtp:
            if notices.smtp_starttls:
                smtp.starttls()
            if notices.smtp_user:
                smtp.login(notices.smtp_user, notices.smtp_password or "")
            refused = smtp.send_message(msg)
    except (smtplib.SMTPException, OSError) as exc:
        raise DeliveryError(f"SMTP {notices.smtp_host}:{notices.smtp_port}: {exc}") from exc
    if refused:
        # the others took it (all refused raises above); a retry would duplicate it for them
        log.warning("SMTP refused some recipients of %s: %s", payload["idempotency_key"], ", ".join(refused))


def send_slack(payload: dict, notices: NoticeSettings) -> None:
    url = payload.get("webhook_url") or notices.slack_webhook_url  # a recipient's own, else the settings'
    if not url:
        raise ConfigError("Slack notice pending but slack_webhook_url is not set")
    body = dict(payload["slack"])
    # Slack has no idempotency support; the ref travels in the message (context block) and here
    headers = {"Idempotency-Key": payload["idempotency_key"]}
    try:
        response = httpx.post(url, json=body, headers=headers, timeout=SLACK_TIMEOUT_S)
    except httpx.HTTPError as exc:
        raise DeliveryError(f"Slack webhook: {exc.__class__.__name__}: {exc}") from exc
    if not response.is_success:
        raise DeliveryError(f"Slack webhook answered {response.status_code}: {response.text[:200]}")
