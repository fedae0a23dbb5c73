"""Length-prefixed frames over one Unix socket between a crawl process and its store writer.

Why not ``multiprocessing.Queue``: its feeder thread, and a reader thread waiting on the writer's
answers, took the GIL back and forth with the reactor at every item (some 20,000 thread switches a
2,000-lot crawl). Here the reactor writes frames through an asyncio transport (buffered, never
blocking) and reads the answers on its own event loop; the writer, a process of its own, reads and
writes with plain blocking calls. The end of the stream says the peer is gone, whether it ended or died.
"""

from __future__ import annotations

import asyncio
import select
import socket
import struct
from collections.abc import Callable

_HEADER = struct.Struct("!I")
MAX_FRAME = 1 << 31  # a frame's length fits the header; items are far smaller (photos are capped)
SOCKET_BUFFER = 4 << 20  # what the kernel holds per direction: the reactor's writes seldom wait for the writer


class Timeout(Exception):
    """No whole frame arrived in time."""


def socket_pair() -> tuple[socket.socket, socket.socket]:
    """(the crawl's end, the writer's end), both with large kernel buffers."""
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    for sock in (ours, theirs):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SOCKET_BUFFER)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, SOCKET_BUFFER)
    return ours, theirs


def header(size: int) -> bytes:
    if size >= MAX_FRAME:
        raise ValueError(f"a frame of {size} bytes is too large")
    return _HEADER.pack(size)


def pop_frame(buf: bytearray) -> bytes | None:
    """The first whole frame in ``buf``, taken out of it; None while it holds only part of one."""
    if len(buf) < _HEADER.size:
        return None
    (size,) = _HEADER.unpack_from(buf)
    end = _HEADER.size + size
    if len(buf) < end:
        return None
    payload = bytes(buf[_HEADER.size : end])
    del buf[:end]
    return payload


def send(sock: socket.socket, payload: bytes) -> None:
    """One frame, blocking (the writer's side)."""
    sock.sendall(header(len(payload)) + payload)


class FrameReader:
    """Frames off a blocking socket, each within a timeout (the writer's side)."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buf = bytearray()
        self.closed = False

    def next(self, timeout: float | None) -> bytes | None:
        """The next frame; None once the peer has closed its end (or died). Timeout when none came in time."""
        while True:
            payload = pop_frame(self.buf)
            if payload is not None:
                return payload
            if self.closed:
                return None
            readable, _, _ = select.select([self.sock], [], [], timeout)
            if not readable:
                raise Timeout
            chunk = self.sock.recv(SOCKET_BUFFER)
            if not chunk:
                self.closed = True  # a partial frame left in the buffer is dropped: its sender is gone
            self.buf += chunk


class FrameProtocol(asyncio.Protocol):
    """The crawl's end on the event loop: frames in go to ``on_frame``; ``on_end`` once the peer is gone."""

    def __init__(self, on_frame: Callable[[bytes], None], on_end: Callable[[], None]) -> None:
        self.on_frame, self.on_end = on_frame, on_end
        self.buf = bytearray()
        self.transport: asyncio.WriteTransport | None = None
        self.ended = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.buf += data
        while (payload := pop_frame(self.buf)) is not None:
            self.on_frame(payload)

    def eof_received(self) -> bool:
        self._end()  # the peer closed: it answered all it will (the transport then closes)
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self._end()  # closed by us, or a write failed: the peer is gone

    def _end(self) -> None:
        if not self.ended:
            self.ended = True
            self.on_end()

    def send(self, payload: bytes) -> None:
        """Queue one frame; the loop writes it as the socket takes it (never blocks)."""
        assert self.transport is not None
        self.transport.writelines([header(len(payload)), payload])

    def finish(self) -> None:
        """No more frames from us: the peer reads to the end, answers, and closes."""
        assert self.transport is not None
        self.transport.write_eof()  # a Unix stream socket's transport always can
