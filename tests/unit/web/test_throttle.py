"""The password-check slots of the login throttle: argon2 work never queues up without bound."""

from __future__ import annotations

import threading

from lootwatch.web.throttle import LoginThrottle


def test_a_check_finding_no_free_slot_is_refused_not_queued() -> None:
    throttle = LoginThrottle(verify_slots=1)
    held, release = threading.Event(), threading.Event()

    def hold() -> None:
        with throttle.verify_slot() as got:
            assert got
            held.set()
            release.wait(5)

    worker = threading.Thread(target=hold)
    worker.start()
    assert held.wait(5)
    with throttle.verify_slot(wait_s=0.05) as got:
        assert not got
    release.set()
    worker.join(5)
    with throttle.verify_slot(wait_s=0.05) as got:
        assert got  # the slot came back
