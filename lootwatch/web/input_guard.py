"""Refuses malformed requests before any route sees them, with a 4xx and a plain message.

- A NUL byte (raw or ``%00``) in the query string or in a form body: PostgreSQL text cannot hold
  one, and no analyst types one; the request is answered 400 instead of failing in the database.
- A form body over :data:`MAX_FORM_BYTES`: no form of the app comes near it (comments are capped
  far below), so a larger one is an attempt to make the app buffer and parse it (413).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

log = logging.getLogger(__name__)
MAX_FORM_BYTES = 64 * 1024


def has_nul(raw: bytes) -> bool:
    return b"\x00" in raw or b"%00" in raw


class InputGuard:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if has_nul(scope.get("query_string", b"")) or "\x00" in scope.get("path", ""):
            await _refuse(scope, send, 400, "Bad input: the address contains a NUL character.")
            return
        if scope.get("method") not in ("POST", "PUT", "PATCH"):
            await self.app(scope, receive, send)
            return
        body, messages = b"", []
        while True:
            message = await receive()
            messages.append(message)
            body += message.get("body", b"")
            if len(body) > MAX_FORM_BYTES:
                await _refuse(scope, send, 413, f"Bad input: the form is larger than {MAX_FORM_BYTES // 1024} KiB.")
                return
            if message["type"] != "http.request" or not message.get("more_body", False):
                break
        if has_nul(body):
            await _refuse(scope, send, 400, "Bad input: a form field contains a NUL character.")
            return

        async def replay() -> Message:
            return messages.pop(0) if messages else await receive()

        await self.app(scope, replay, send)


async def _refuse(scope: Scope, send: Send, status: int, text: str) -> None:
    client = scope.get("client") or ("unknown", 0)
    log.warning(
        "request refused",
        extra={"action": "web.bad_input", "status": status, "reason": text, "path": scope.get("path", "")[:200],
               "client": client[0]},
    )  # fmt: skip
    body = text.encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"text/plain; charset=utf-8"),
                (b"content-length", str(len(body)).encode()),
                (b"x-content-type-options", b"nosniff"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
