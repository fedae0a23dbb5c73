"""What the review app does to text and links that come from a seller's page before showing them.

Jinja's autoescape already makes every field text, never markup. Two tricks survive escaping:
a ``javascript:`` (or ``data:``) URL placed in an href, and Unicode bidirectional controls that
make ``gpj.exe`` read as ``exe.jpg``. Links are therefore rendered only for http(s) URLs, and
bidi controls are shown as a visible ``[U+202E]`` marker wherever page text is printed.
"""

from __future__ import annotations

import re
from typing import Any

# U+200E/F (LRM, RLM), U+202A-202E (embeddings, overrides), U+2066-2069 (isolates); U+061C (ALM) too
BIDI_CONTROLS = re.compile("[\u200e\u200f\u202a-\u202e\u2066-\u2069\u061c]")
_SCHEME = re.compile(r"^https?://[^\s/?#]+", re.IGNORECASE)


def neutralise(value: Any) -> Any:
    """``value`` with every bidi control replaced by a visible marker (non-strings unchanged)."""
    if isinstance(value, str) and BIDI_CONTROLS.search(value):
        return BIDI_CONTROLS.sub(lambda m: f"[U+{ord(m.group()):04X}]", value)
    return value


def http_url(url: Any) -> str | None:
    """``url`` when it is an absolute http(s) URL with a host, else None (never a script or data link)."""
    if not isinstance(url, str) or any(c in url for c in "\x00\r\n\t") or BIDI_CONTROLS.search(url):
        return None
    return url if _SCHEME.match(url) else None
