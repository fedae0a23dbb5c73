"""Frames between the crawl and its writer: whole payloads out, however the bytes arrive."""

from __future__ import annotations

from lootwatch.crawlers.framing import FrameProtocol, FrameReader, header, pop_frame, send, socket_pair


def test_frames_come_out_whole_when_their_bytes_arrive_in_pieces() -> None:
    payloads = [b"", b"x" * 70_000, b"three"]
    stream = b"".join(header(len(p)) + p for p in payloads)
    got: list[bytes] = []
    ended: list[bool] = []
    proto = FrameProtocol(got.append, lambda: ended.append(True))
    for i in range(0, len(stream), 999):  # cuts through headers and payloads alike
        proto.data_received(stream[i : i + 999])
    assert got == payloads and not proto.buf
    proto.eof_received()
    proto.connection_lost(None)
    assert ended == [True]  # told once


def test_pop_frame_leaves_a_partial_frame_in_place() -> None:
    buf = bytearray(header(5) + b"abc")
    assert pop_frame(buf) is None and len(buf) == 7
    buf += b"de"
    assert pop_frame(buf) == b"abcde" and not buf


def test_the_writers_reader_gives_frames_then_the_end() -> None:
    ours, theirs = socket_pair()
    send(ours, b"one")
    send(ours, b"two")
    ours.close()
    reader = FrameReader(theirs)
    assert [reader.next(5), reader.next(5), reader.next(5)] == [b"one", b"two", None]
    theirs.close()
