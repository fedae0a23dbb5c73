"""The self-contained demo: a synthetic protected gallery, a local auction site, the whole pipeline."""

from __future__ import annotations
