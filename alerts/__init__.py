"""Alerts: the review queue and the notices that tell analysts about it.

- :mod:`alerts.states`: the review state machine (pure).
- :mod:`alerts.review`: list / show / decide on the review queue (audit trail in ``decisions``).
- :mod:`alerts.outbox`: notices written in the worker's transaction (``enqueue_notices``).
- :mod:`alerts.messages`: the notice text, escaped for email and Slack.
- :mod:`alerts.senders`: SMTP and Slack-webhook delivery.
- :mod:`alerts.dispatch`: claim, send, retry with backoff, reclaim crashed sends.
"""

from __future__ import annotations
