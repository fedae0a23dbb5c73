"""A local SMTP server and a local webhook endpoint that receive the demo's notices."""

from __future__ import annotations

import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType


def free_port() -> int:
    # aiosmtpd connects to its own port to check it started, so it cannot take port 0
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class LocalSinks:
    """aiosmtpd on 127.0.0.1 for email, a tiny HTTP server standing in for Slack's incoming webhook."""

    def __init__(self) -> None:
        self.emails = 0
        self.webhooks = 0
        self.messages: list[bytes] = []
        self.posts: list[bytes] = []

    def __enter__(self) -> LocalSinks:
        from aiosmtpd.controller import Controller

        sinks = self

        class _Smtp:
            async def handle_DATA(self, server, session, envelope):  # noqa: ANN001,ANN201,N802
                sinks.emails += 1
                sinks.messages.append(envelope.content)
                return "250 Message accepted for delivery"

        self.smtp_port = free_port()
        self._smtp = Controller(_Smtp(), hostname="127.0.0.1", port=self.smtp_port)
        self._smtp.start()

        class _Hook(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                sinks.webhooks += 1
                sinks.posts.append(body)
                self.send_response(200)
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: object) -> None:
                pass

        self._http = ThreadingHTTPServer(("127.0.0.1", 0), _Hook)
        threading.Thread(target=self._http.serve_forever, daemon=True).start()
        self.webhook_url = f"http://127.0.0.1:{self._http.server_address[1]}/hooks/lootwatch"
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._http.shutdown()
        self._http.server_close()
        self._smtp.stop()
