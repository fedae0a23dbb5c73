"""Jobs are queued by dotted name (core.queueing never imports the workers): each name is its job."""

from __future__ import annotations

import importlib

import pytest
from lootwatch.workers import jobs

from lootwatch.core.queueing import MATCH_JOB, RETRAIN_JOB


@pytest.mark.parametrize(("name", "job"), [(MATCH_JOB, jobs.match_photo), (RETRAIN_JOB, jobs.retrain_classifier)])
def test_a_queued_name_resolves_to_its_job(name: str, job: object) -> None:
    module, _, attr = name.rpartition(".")
    assert getattr(importlib.import_module(module), attr) is job
