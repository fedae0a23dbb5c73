"""A stopping worker does not wait on RQ's command listener."""

from __future__ import annotations

import time

import pytest
from lootwatch.workers.process import _Worker
from rq.serializers import JSONSerializer

from lootwatch.core.queueing import LISTENER_POLL_S, photo_queue

pytestmark = pytest.mark.redis


def test_the_command_listener_stops_within_its_poll_interval(redis_url: str) -> None:
    queue = photo_queue(redis_url, "listener-test")
    worker = _Worker([queue], connection=queue.connection, serializer=JSONSerializer, name="listener-test")
    worker.subscribe()
    time.sleep(0.3)  # the listener has read its subscription reply and waits for a message
    thread = worker.pubsub_thread
    assert thread is not None
    start = time.monotonic()
    # no message comes: what a stop found when the listener had already taken the unsubscribe reply
    thread.stop()
    assert time.monotonic() - start < LISTENER_POLL_S + 2  # RQ's own listener waited out its 60 s
    assert not thread.is_alive()
    worker.pubsub.close()
