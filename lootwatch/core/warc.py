"""Fetched pages as WARC records (ISO 28500, written by warcio), one gzip member each.

A crawl's pages are appended to one WARC file (see :class:`lootwatch.core.storage.PackFile`) instead of a
file each: creating a file cost the crawl's writer 0.05-0.9 ms of kernel time a page on this
project's machines, more than the page's other writes together. A record is a ``resource`` record:
the page's exact bytes (what its sha256 is taken of), its URL and the time it was fetched; standard
tools (warcio, pywb, replayweb.page) read the files, and each record can be read alone at its offset.
"""

from __future__ import annotations

import gzip
import io
from datetime import UTC, datetime

from warcio.archiveiterator import ArchiveIterator
from warcio.warcwriter import WARCWriter

from lootwatch.core.errors import BadInputError

# evidence pages are compressed on the crawl's path: level 1 costs well under half the CPU of zlib's
# default for files about a fifth larger; any level reads back the same bytes
GZIP_LEVEL = 1


def page_record(url: str, body: bytes, fetched_at: datetime | None, content_type: str = "text/html") -> bytes:
    """One gzip member holding a WARC ``resource`` record of ``body`` fetched from ``url``."""
    raw = io.BytesIO()
    writer = WARCWriter(raw, gzip=False)  # compressed below at our level (warcio's member is level 9)
    when = (fetched_at or datetime.now(UTC)).astimezone(UTC)
    record = writer.create_warc_record(
        url,
        "resource",
        payload=io.BytesIO(body),
        length=len(body),
        warc_content_type=content_type,
        warc_headers_dict={"WARC-Date": when.strftime("%Y-%m-%dT%H:%M:%S.%fZ")},
    )
    writer.write_record(record)
    return gzip.compress(raw.getvalue(), compresslevel=GZIP_LEVEL, mtime=0)


def record_payload(member: bytes) -> bytes:
    """The stored bytes of the one WARC record in ``member`` (a gzip member, as :func:`page_record` made)."""
    for record in ArchiveIterator(io.BytesIO(member)):
        return bytes(record.content_stream().read())
    raise BadInputError("no WARC record at that place in the file")
