"""Deliver one notice payload by email (smtplib) or to a Slack incoming webhook (httpx).

Both raise :class:`DeliveryError` on any failure; the dispatcher records it and retries later.
"""

from __future__ import annotations

import logging
import smtplib
from email.message import EmailMessage
from email.utils import formatdate

import httpx

from lootwatch.errors import ConfigError, LootwatchError
from lootwatch.settings import Settings

log = logging.getLogger(__name__)

SMTP_TIMEOUT_S = 30.0
SLACK_TIMEOUT_S = 15.0


class DeliveryError(LootwatchError):
    """A notice could not be delivered this time."""


def message_id(key: str, sender: str) -> str:
    """A Message-ID fixed by the idempotency key: a re-send after a crash carries the same one,
    so mail clients and archives treat the two copies as one message."""
    domain = sender.rsplit("@", 1)[-1].strip("<> ") or "lootwatch.invalid"
    local = "".join(c if c.isalnum() or c in "-." else "." for c in key)
    return f"<{local}.lootwatch@{domain}>"


def build_email(payload: dict, settings: Settings) -> EmailMessage:
    recipients = payload.get("to") or settings.email_to
    if not recipients:
        raise ConfigError("no email recipients: set email_to")
    msg = EmailMessage()
    msg["From"] = settings.email_from
    msg["To"] = ", ".join(recipients)
    msg["Subject"] = payload["subject"]
    msg["Date"] = formatdate(localtime=False, usegmt=True)
    msg["Message-ID"] = message_id(payload["idempotency_key"], settings.email_from)
    msg["X-Lootwatch-Ref"] = payload["idempotency_key"]
    msg.set_content(payload["text"])
    msg.add_alternative(payload["html"], subtype="html")
    return msg


def send_email(payload: dict, settings: Settings) -> None:
    if not settings.smtp_host:
        raise ConfigError("email notice pending but smtp_host is not set")
    msg = build_email(payload, settings)
    try:
        with smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=SMTP_TIMEOUT_S) as smtp:
            if settings.smtp_starttls:
                smtp.starttls()
            if settings.smtp_user:
                smtp.login(settings.smtp_user, settings.smtp_password or "")
            refused = smtp.send_message(msg)
    except (smtplib.SMTPException, OSError) as exc:
        raise DeliveryError(f"SMTP {settings.smtp_host}:{settings.smtp_port}: {exc}") from exc
    if refused:
        # the others took it (all refused raises above); a retry would duplicate it for them
        log.warning("SMTP refused some recipients of %s: %s", payload["idempotency_key"], ", ".join(refused))


def send_slack(payload: dict, settings: Settings) -> None:
    if not settings.slack_webhook_url:
        raise ConfigError("Slack notice pending but slack_webhook_url is not set")
    body = dict(payload["slack"])
    # Slack has no idempotency support; the ref travels in the message (context block) and here
    headers = {"Idempotency-Key": payload["idempotency_key"]}
    try:
        response = httpx.post(settings.slack_webhook_url, json=body, headers=headers, timeout=SLACK_TIMEOUT_S)
    except httpx.HTTPError as exc:
        raise DeliveryError(f"Slack webhook: {exc.__class__.__name__}: {exc}") from exc
    if not response.is_success:
        raise DeliveryError(f"Slack webhook answered {response.status_code}: {response.text[:200]}")
