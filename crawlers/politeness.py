"""Per-domain politeness shared by every crawl process through Redis.

Scrapy spaces requests per download slot inside one process. Crawls of several sites on one
domain, on one machine or many, would each keep their own spacing and together hit the domain
faster than any of them means to. Here each domain has one Redis hash: ``next`` (the earliest time
the next request may go, in Redis's clock, so machines need not agree on theirs) and a shared
``floor`` (robots.txt Crawl-delay, 429/503 backoff) that every process honours until
``floor_until``. A request takes its turn with one Lua script (one round trip): it is given the
later of now and ``next``, and moves ``next`` on by the larger of its delay and the floor.

A domain crawled with no delay (a local site) has nothing to book: it only looks, once a second,
for a floor another process shared (a backoff), and is paced from then on.

The turn is taken in the download handler, just before the request goes out (after Scrapy's own
slot delay and concurrency limit): a turn taken earlier could be overtaken by another process
while the request still waits in Scrapy's queue.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from typing import Any

from redis import Redis
from redis.exceptions import RedisError
from scrapy import Request
from scrapy.crawler import Crawler

log = logging.getLogger(__name__)

PACE_URL_SETTING = "LOOTWATCH_PACE_REDIS_URL"  # crawler setting: Redis of the shared pace (unset: off)
KEY_PREFIX = "lootwatch:pace:"
FLOOR_TTL_S = 3600.0  # a shared floor is honoured this long after it was last raised
KEEP_S = 86400.0  # an idle domain's hash is dropped this long after its last turn
WARN_EVERY_S = 60.0
REDIS_TIMEOUT_S = 2.0
UNPACED_RECHECK_S = 1.0  # a domain crawled with no delay looks for a floor shared by others this often

# Times are µs in Lua's doubles (exact below 2^53), written with %.0f: Lua's own number format
# keeps 14 digits. Redis TIME makes the script non-deterministic: Redis 6 wants effects replication asked for
# before a write follows it (Redis 7 always replicates effects and keeps the call as a no-op).
_NOW = """
if redis.replicate_commands then redis.replicate_commands() end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
"""

# KEYS[1] the domain's hash; ARGV[1] this request's delay (µs), ARGV[2] keep (µs).
# Returns {wait µs, floor µs}.
_TAKE_TURN = (
    _NOW
    + """
local h = redis.call('HMGET', KEYS[1], 'next', 'floor', 'floor_until')
local nxt = tonumber(h[1]) or 0
local floor = 0
if (tonumber(h[3]) or 0) > now then floor = tonumber(h[2]) or 0 end
local at = math.max(now, nxt)
local gap = math.max(tonumber(ARGV[1]), floor)
redis.call('HSET', KEYS[1], 'next', string.format('%.0f', at + gap))
redis.call('PEXPIRE', KEYS[1], math.floor((at + gap - now + tonumber(ARGV[2])) / 1000))
return {at - now, floor}
"""
)

# KEYS[1] the domain's hash; ARGV[1] floor (µs), ARGV[2] floor's life (µs), ARGV[3] pause (µs): no
# request goes before now + pause; ARGV[4] keep (µs). Returns the floor now in force (µs).
_RAISE_FLOOR = (
    _NOW
    + """
local h = redis.call('HMGET', KEYS[1], 'next', 'floor', 'floor_until')
local floor = 0
if (tonumber(h[3]) or 0) > now then floor = tonumber(h[2]) or 0 end
floor = math.max(floor, tonumber(ARGV[1]))
local nxt = math.max(tonumber(h[1]) or 0, now + tonumber(ARGV[3]))
redis.call('HSET', KEYS[1], 'floor', string.format('%.0f', floor),
    'floor_until', string.format('%.0f', now + tonumber(ARGV[2])), 'next', string.format('%.0f', nxt))
redis.call('PEXPIRE', KEYS[1], math.floor((nxt - now + tonumber(ARGV[2]) + tonumber(ARGV[4])) / 1000))
return floor
"""
)


def _us(seconds: float) -> int:
    return max(0, round(seconds * 1_000_000))


@dataclass(frozen=True)
class Turn:
    wait_s: float  # how long the request must wait before it goes
    floor_s: float  # the shared floor of the domain's delay (0: none)


class SharedPace:
    """Next-allowed request time and delay floor of each domain, in Redis."""

    def __init__(self, redis: Redis, *, prefix: str = KEY_PREFIX) -> None:
        self.redis = redis
        self.prefix = prefix
        self._take_turn = redis.register_script(_TAKE_TURN)  # EVALSHA: one round trip per call
        self._raise_floor = redis.register_script(_RAISE_FLOOR)

    @classmethod
    def from_url(cls, url: str) -> SharedPace:
        # the turn is taken on the crawl's reactor thread: a Redis that stops answering must not hold it
        return cls(Redis.from_url(url, socket_timeout=REDIS_TIMEOUT_S, socket_connect_timeout=REDIS_TIMEOUT_S))

    def key(self, domain: str) -> str:
        return self.prefix + domain

    def take_turn(self, domain: str, delay_s: float) -> Turn:
        """Book the domain's next request slot for a request that wants ``delay_s`` after it."""
        wait, floor = self._take_turn(keys=[self.key(domain)], args=[_us(delay_s), _us(KEEP_S)])
        return Turn(int(wait) / 1e6, int(floor) / 1e6)

    def raise_floor(self, domain: str, delay_s: float, *, pause_s: float = 0.0, ttl_s: float = FLOOR_TTL_S) -> float:
        """Every process keeps at least ``delay_s`` between requests to ``domain`` for ``ttl_s``, and
        sends none for ``pause_s`` from now (a backoff). Returns the floor in force."""
        floor = self._raise_floor(keys=[self.key(domain)], args=[_us(delay_s), _us(ttl_s), _us(pause_s), _us(KEEP_S)])
        return int(floor) / 1e6


# --- the crawler's side ---------------------------------------------------------------------------
def delay_floors(crawler: Crawler) -> dict[str, float]:
    """Minimum delay per download slot (robots.txt Crawl-delay, backoff), kept for this crawler."""
    floors = getattr(crawler, "_lootwatch_delay_floors", None)
    if floors is None:
        floors = {}
        crawler._lootwatch_delay_floors = floors  # type: ignore[attr-defined]
    return floors


class _CrawlerPace:
    """A crawler's shared pace, when it last warned that Redis was out of reach, and until when each
    domain crawled with no delay needs no turn (no floor was shared when it last looked)."""

    def __init__(self, pace: SharedPace | None) -> None:
        self.pace = pace
        self.warned_at = -WARN_EVERY_S
        self.unpaced_until: dict[str, float] = {}

    def unreachable(self, exc: RedisError) -> None:
        # the crawl goes on with Scrapy's own per-process delay rather than stopping
        now = time.monotonic()
        if now - self.warned_at >= WARN_EVERY_S:
            self.warned_at = now
            log.warning("shared politeness unavailable (%s): delays hold per process only until Redis is back", exc)


def _crawler_pace(crawler: Crawler) -> _CrawlerPace:
    kept = getattr(crawler, "_lootwatch_pace", None)
    if kept is None:
        url = crawler.settings.get(PACE_URL_SETTING)
        kept = _CrawlerPace(SharedPace.from_url(url) if url else None)
        crawler._lootwatch_pace = kept  # type: ignore[attr-defined]
    return kept


def _slot(crawler: Crawler, request: Request) -> tuple[str, Any]:
    downloader = crawler.engine.downloader  # type: ignore[union-attr]
    key = downloader.get_slot_key(request)
    return key, downloader.slots.get(key)


async def take_turn(crawler: Crawler, request: Request) -> None:
    """Wait for the request's domain's shared turn (nothing when no shared pace is configured).

    The delay booked is the slot's own (DOWNLOAD_DELAY, AutoThrottle, local floors); a larger floor
    shared by another process is adopted by this crawler's slot as well."""
    kept = _crawler_pace(crawler)
    if kept.pace is None:
        return
    key, slot = _slot(crawler, request)
    wanted = slot.delay if slot is not None else crawler.settings.getfloat("DOWNLOAD_DELAY", 0.0)
    now = time.monotonic()
    if wanted <= 0 and now < kept.unpaced_until.get(key, 0.0):
        return  # no delay wanted and none shared a moment ago: nothing to book
    try:
        turn = kept.pace.take_turn(key, wanted)
    except RedisError as exc:
        kept.unreachable(exc)
        return
    if wanted <= 0 and turn.floor_s <= 0:
        kept.unpaced_until[key] = now + UNPACED_RECHECK_S
    if turn.floor_s > wanted:
        floors = delay_floors(crawler)
        floors[key] = max(floors.get(key, 0.0), turn.floor_s)
        if slot is not None:
            slot.delay = max(slot.delay, turn.floor_s)
    if turn.wait_s > 0:
        await asyncio.sleep(turn.wait_s)


def share_floor(crawler: Crawler, key: str, delay_s: float, *, pause_s: float = 0.0) -> None:
    """Tell every process crawling ``key`` to keep ``delay_s`` (and to pause ``pause_s``)."""
    kept = _crawler_pace(crawler)
    if kept.pace is None or (delay_s <= 0 and pause_s <= 0):
        return  # nothing to share (a robots.txt that asks no delay, of a site crawled with none)
    try:
        kept.pace.raise_floor(key, delay_s, pause_s=pause_s)
    except RedisError as exc:
        kept.unreachable(exc)
