"""The crawl processes' garbage collector, tuned once their start-up is done."""

from __future__ import annotations

import gc

# Objects made between two young collections (net of those freed): Python's default, 700, ran ~700
# collections a 2,000-lot crawl, a few of them full ones over every request in flight (0.3-0.7 s of
# the crawl's ~7 s of CPU); at 20,000 it ran 2, and the crawl's resident memory stayed the same. Cycles
# (Twisted's Deferreds and Failures make some) are still collected, less often.
YOUNG_THRESHOLD = 20_000


def settle_heap() -> None:
    """Freeze what start-up made (modules, settings: the collector no longer walks them again and again)
    and collect young objects less often."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(YOUNG_THRESHOLD, *gc.get_threshold()[1:])
