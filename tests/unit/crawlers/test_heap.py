"""The crawl processes' collector settings."""

from __future__ import annotations

import gc

from lootwatch.crawlers.heap import YOUNG_THRESHOLD, settle_heap


def test_settle_heap_freezes_start_up_and_collects_young_objects_less_often() -> None:
    before = gc.get_threshold()
    try:
        settle_heap()
        assert gc.get_freeze_count() > 0  # start-up's objects are out of the collector's way
        assert gc.get_threshold() == (YOUNG_THRESHOLD, *before[1:])
        cycle: list[object] = []
        cycle.append(cycle)
        del cycle
        assert gc.collect() >= 1  # cycles are still collected
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)
