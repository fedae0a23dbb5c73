"""Text a page supplies, made storable: characters PostgreSQL refuses (or a terminal obeys) replaced.

A seller controls every field of a listing. PostgreSQL ``text`` refuses NUL, and a lone UTF-16
surrogate (JSON-LD ``"\\ud800"`` decodes to one) cannot be encoded as UTF-8: either made the
whole listing, its page snapshot and its photos fail to store. The other C0 control characters
and DEL are stored fine but drive terminals (ESC sequences in ``lootwatch review show``) and
never belong in a title or a price. Each is replaced by U+FFFD, and what was replaced is
reported so the store records it beside the listing; the page's exact bytes stay in the WARC
record, so nothing the seller sent is lost.
"""

from __future__ import annotations

import re
from dataclasses import fields, replace
from typing import Any, TypeVar

REPLACEMENT = "\ufffd"
# NUL and the other C0 controls except tab, newline and carriage return; DEL; lone surrogates
_UNSAFE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")

T = TypeVar("T")


def unsafe_count(text: str) -> dict[str, int]:
    """How many characters of each kind ``text`` holds that :func:`clean_text` replaces."""
    counts: dict[str, int] = {}
    for ch in _UNSAFE.findall(text):
        kind = _kind(ch)
        counts[kind] = counts.get(kind, 0) + 1
    return counts


def _kind(ch: str) -> str:
    code = ord(ch)
    if code == 0:
        return "NUL"
    if 0xD800 <= code <= 0xDFFF:
        return "lone surrogate"
    return "control character"


def clean_text(text: str) -> str:
    """``text`` with every NUL, other control character (but tab, CR, LF), DEL and lone surrogate
    replaced by U+FFFD."""
    return _UNSAFE.sub(REPLACEMENT, text)


def _describe(name: str, counts: dict[str, int]) -> str:
    parts = [f"{n} {kind}{'s' if n > 1 else ''}" for kind, n in sorted(counts.items())]
    return f"{name}: {', '.join(parts)} replaced with U+FFFD"


def clean_record(record: T, *, skip: tuple[str, ...] = ()) -> tuple[T, list[str]]:
    """A copy of the dataclass ``record`` with its text fields (strings, lists of strings, nested
    dataclasses) cleaned, and one note per field changed ("title: 1 NUL replaced with U+FFFD")."""
    notes: list[str] = []
    changes: dict[str, Any] = {}
    for f in fields(record):  # type: ignore[arg-type]
        if f.name in skip:
            continue
        value = getattr(record, f.name)
        cleaned = _clean_value(f.name, value, notes)
        if cleaned is not value:
            changes[f.name] = cleaned
    return (replace(record, **changes) if changes else record), notes  # type: ignore[type-var]


def _clean_value(name: str, value: Any, notes: list[str]) -> Any:
    if isinstance(value, str):
        counts = unsafe_count(value)
        if not counts:
            return value
        notes.append(_describe(name, counts))
        return clean_text(value)
    if isinstance(value, list):
        out = [_clean_value(f"{name}[{i}]", v, notes) for i, v in enumerate(value)]
        return out if any(o is not v for o, v in zip(out, value, strict=True)) else value
    if isinstance(value, dict):
        items = {k: _clean_value(f"{name}.{k}", v, notes) for k, v in value.items()}
        return items if any(items[k] is not v for k, v in value.items()) else value
    if hasattr(value, "__dataclass_fields__"):
        inner, inner_notes = clean_record(value)
        notes += [f"{name}.{n}" for n in inner_notes]
        return inner
    return value
