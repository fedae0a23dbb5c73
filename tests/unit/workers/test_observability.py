"""JSON log lines, transient-error classification and backoff, Prometheus exposition, status text."""

from __future__ import annotations

import datetime as dt
import json
import logging

import psycopg
import redis
from lootwatch.workers.resilience import Backoff, retry_transient, transient_reason
from prometheus_client import generate_latest

from lootwatch.cli.status import Status, render
from lootwatch.core.errors import BadInputError, ConfigError
from lootwatch.core.logging import JsonFormatter
from lootwatch.core.metrics import ERRORS, JOB_LATENCY, PHOTOS


def test_json_log_line_has_stable_keys_and_extras() -> None:
    record = logging.LogRecord("lootwatch.workers.matching", logging.INFO, __file__, 1, "batch %s", ("ok",), None)
    record.action, record.photos = "match.batch", 16
    out = json.loads(JsonFormatter().format(record))
    assert out["action"] == "match.batch" and out["message"] == "batch ok" and out["photos"] == 16
    assert out["level"] == "INFO" and out["logger"] == "lootwatch.workers.matching" and "time" in out
    plain = json.loads(JsonFormatter().format(logging.LogRecord("x", logging.WARNING, "", 1, "m", None, None)))
    assert plain["action"] == "log"


def test_transient_errors_are_recognised() -> None:
    wrapped = ConfigError("cannot connect")
    wrapped.__cause__ = psycopg.OperationalError("refused")
    assert transient_reason(psycopg.OperationalError("x")) == "postgres"
    assert transient_reason(wrapped) == "postgres"
    assert transient_reason(redis.exceptions.ConnectionError("x")) == "redis"
    assert transient_reason(BadInputError("corrupt")) is None


def test_retry_rides_out_transient_errors_and_raises_others() -> None:
    calls = []

    def flaky() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise redis.exceptions.ConnectionError("down")
        return "done"

    assert retry_transient(flaky, "test", first_s=0.001) == "done" and len(calls) == 3
    try:
        retry_transient(lambda: (_ for _ in ()).throw(BadInputError("bad")), "test", first_s=0.001)
    except BadInputError:
        pass
    else:
        raise AssertionError("a non-transient error was retried")
    b = Backoff(1.0, cap_s=3.0)
    assert [b.next() for _ in range(4)] == [1.0, 2.0, 3.0, 3.0]


def test_metrics_are_exposed() -> None:
    PHOTOS.labels("matched").inc(3)
    ERRORS.labels("bad_input").inc()
    JOB_LATENCY.observe(0.2)
    text = generate_latest().decode()
    assert 'lootwatch_photos_total{outcome="matched"}' in text
    assert 'lootwatch_errors_total{reason="bad_input"}' in text
    assert "lootwatch_job_seconds_bucket" in text and "lootwatch_queue_depth" in text


def test_status_text() -> None:
    st = Status("photos", 7, photos={"matched": 10, "queued": 7}, review_items={"new": 2}, notices={"sent": 4})
    st.index_version, st.threshold, st.threshold_source = "pan-abc-v3", 0.71, "calibrated"
    st.crawl_runs = [
        {
            "site": "ebay",
            "status": "finished",
            "started_at": dt.datetime(2025, 1, 2, 3, 4),
            "pages": 9,
            "listings": 5,
            "photos": 12,
            "errors": 1,
        }
    ]
    text = render(st)
    assert "queue photos: 7 waiting" in text and "matched 10, queued 7" in text
    assert "pan-abc-v3, threshold 0.710 (calibrated)" in text and "ebay" in text and "errors 1" in text
    assert "unreachable" in render(Status("photos", None))
